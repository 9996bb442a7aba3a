"""Issue 4 (agent part 2): the VIP moves between a real Heartbeat node (web1) and an hbagent node (web2).

Enabled automatically once the agent offers resource control (its --help lists `standby` and
`takeover`); until then these tests are skipped with that reason. Resources: IPaddr::VIP/24/eth0,
auto_failback on. The VIP's place is read from `ip addr` in each container, never from either daemon.
"""

import interop_harness as hb
import pytest

pytestmark = [
    pytest.mark.podman,
    pytest.mark.skipif(not hb.agent_has_commands("standby", "takeover"),
                       reason="agent without resource control yet (hbagent --help lists no standby/takeover)"),
]

VIP_GROUP = f"IPaddr::{hb.VIP}/24/eth0"
# Resource moves include Heartbeat's 10 s resource-transition timer, IPaddr runs and gratuitous ARP.
MOVE_TIMEOUT_S = 90


def vip_only_on(holder, other):
    return lambda: holder.has_vip() and not other.has_vip()


def wait_vip(holder, other, why):
    hb.wait_for(f"the VIP only on {holder.name} ({why})", vip_only_on(holder, other), timeout=MOVE_TIMEOUT_S)


@pytest.fixture
def configure(clean_lab, authkey, agent_pyz):
    def configure(preferred: str):
        web1, web2 = clean_lab["web1"], clean_lab["web2"]
        for node in (web1, web2):
            node.configure(key=authkey, groups=[(preferred, VIP_GROUP)])
        web2.install_agent(agent_pyz)
        web1.start_heartbeat()
        web2.start_agent()
        hb.wait_for("web1 to see web2 active",
                    lambda: web1.cl_status("nodestatus", "web2") == (0, "active"), timeout=60)
        return web1, web2

    return configure


def assert_no_auth_trouble(real):
    assert hb.count_matches(hb.AUTH_FAILURE, real.ha_log()) == []


def test_vip_fails_over_to_agent_and_back(configure):
    web1, web2 = configure("web1")
    wait_vip(web1, web2, "web1 is preferred")

    web1.stop_heartbeat()
    wait_vip(web2, web1, "web1 stopped, the agent takes over")
    assert web2.agent_cl_status("rscstatus")[1] == "all"

    web1.start_heartbeat()
    wait_vip(web1, web2, "web1 back, auto_failback on")
    hb.wait_for("web1 to hold its local group", lambda: web1.cl_status("rscstatus") == (0, "local"),
                timeout=MOVE_TIMEOUT_S)
    assert_no_auth_trouble(web1)


def test_vip_fails_over_to_real_node_and_back(configure):
    web1, web2 = configure("web2")
    wait_vip(web2, web1, "web2 (agent) is preferred")

    web2.stop_agent()
    wait_vip(web1, web2, "the agent stopped, web1 takes over")
    assert "Received shutdown notice from 'web2'." in web1.ha_log()
    assert web1.cl_status("rscstatus") == (0, "all")

    web2.start_agent()
    wait_vip(web2, web1, "the agent back, auto_failback on")
    hb.wait_for("web1 to finish the failback", lambda: "Other node completed standby takeover of foreign "
                "resources." in web1.ha_log(), timeout=MOVE_TIMEOUT_S)
    assert_no_auth_trouble(web1)


def test_real_node_takes_over_after_agent_node_crash(configure):
    web1, web2 = configure("web2")
    wait_vip(web2, web1, "web2 (agent) is preferred")

    # The whole node dies: the agent gets no chance to release, and its address goes with the machine.
    web2.kill_agent()
    web2.sh(f"ip addr del {hb.VIP}/24 dev eth0")
    wait_vip(web1, web2, "web2 crashed")
    assert "node web2: is dead" in web1.ha_log()

    web2.start_agent()
    wait_vip(web2, web1, "the agent back, auto_failback on")
    assert_no_auth_trouble(web1)


def test_hb_standby_and_takeover_on_the_real_node(configure):
    """The agent as the other side of the real node's hb_standby / hb_takeover tools (spec §8.6)."""
    web1, web2 = configure("web1")
    wait_vip(web1, web2, "web1 is preferred")

    web1.sh("/usr/share/heartbeat/hb_standby all")
    wait_vip(web2, web1, "web1 went standby")

    web1.sh("/usr/share/heartbeat/hb_takeover all")
    wait_vip(web1, web2, "web1 took its resources back")
    assert_no_auth_trouble(web1)


def test_agent_standby_and_takeover_commands(configure):
    web1, web2 = configure("web2")
    wait_vip(web2, web1, "web2 (agent) is preferred")

    assert web2.agent("standby").returncode == 0
    wait_vip(web1, web2, "the agent went standby")

    assert web2.agent("takeover").returncode == 0
    wait_vip(web2, web1, "the agent took its resources back")
    assert_no_auth_trouble(web1)
