"""Real hbagent processes in network namespaces: membership over bcast, ucast and mcast."""

import signal

import pytest

FAST = "keepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 3"
MEDIA = {
    "bcast": "bcast eth0",
    "ucast": "ucast eth0 {peer}",
    "mcast": "mcast eth0 239.0.213.30 694 1 0",
}


def status_of(agent, node):
    result = agent.cl_status("nodestatus", node)
    return result.stdout.strip(), result.returncode


def all_active(agents):
    return all(status_of(a, b.name) == ("active", 0) for a in agents for b in agents)


@pytest.mark.parametrize("medium", sorted(MEDIA))
def test_two_agents_see_each_other_active(lab, wait_for, medium):
    lab.build(["web1", "web2"])
    lab.configure(MEDIA[medium], FAST)
    for agent in lab.agents.values():
        agent.start()
    web1, web2 = lab.agents["web1"], lab.agents["web2"]
    assert wait_for(lambda: all_active([web1, web2])), "agents never saw each other active"
    links = web1.cl_status("listhblinks", "-v", "web2")
    assert (links.returncode, links.stdout) == (0, "\teth0\tup\n")
    assert web1.cl_status("hblinkstatus", "web2", "eth0").stdout == "up\n"
    assert web1.cl_status("listnodes").stdout == "web2\nweb1\n"  # 3.0.6 order: reverse of ha.cf
    assert web1.cl_status("hbstatus").stdout == "Heartbeat is running on this machine.\n"
    # answered by web2 over the wire (query-cstatus / respond-cstatus): no API clients there
    remote = web1.cl_status("clientstatus", "web2", "ipfail", "2000")
    assert (remote.returncode, remote.stdout) == (1, "offline\n")
    assert "Status update for node web2: status active" in web1.log()
    if medium == "bcast":  # sent to the interface's broadcast address, as Heartbeat does
        assert f"bcast: heartbeat on eth0 to {web1.address.rsplit('.', 1)[0]}.255:694" in web1.log()


def test_sigkilled_peer_is_declared_dead_after_deadtime(lab, wait_for):
    lab.build(["web1", "web2"])
    lab.configure(MEDIA["bcast"], FAST)
    for agent in lab.agents.values():
        agent.start()
    web1, web2 = lab.agents["web1"], lab.agents["web2"]
    assert wait_for(lambda: all_active([web1, web2]))
    web2.signal(signal.SIGKILL)
    web2.process.wait(timeout=10)
    assert wait_for(lambda: status_of(web1, "web2") == ("dead", 1), timeout=20)
    assert web1.cl_status("hblinkstatus", "web2", "eth0").stdout == "dead\n"
    log = web1.log()
    assert "node web2: is dead" in log and "Link web2:eth0 dead." in log
    assert status_of(web1, "web1") == ("active", 0)
    # the peer comes back with a new generation
    web2.start()
    assert wait_for(lambda: status_of(web1, "web2") == ("active", 0))
    assert "Heartbeat restart on node web2" in web1.log()


def test_three_agents(lab, wait_for):
    lab.build(["web1", "web2", "web3"])
    lab.configure(MEDIA["bcast"], FAST)
    for agent in lab.agents.values():
        agent.start()
    agents = list(lab.agents.values())
    assert wait_for(lambda: all_active(agents)), "three agents never converged"
    lab.agents["web3"].signal(signal.SIGKILL)
    assert wait_for(lambda: status_of(lab.agents["web1"], "web3") == ("dead", 1), timeout=20)
    assert status_of(lab.agents["web2"], "web1") == ("active", 0)


def test_graceful_stop_and_cl_status_when_stopped(lab, wait_for):
    lab.build(["web1", "web2"])
    lab.configure(MEDIA["bcast"], FAST)
    for agent in lab.agents.values():
        agent.start()
    web1, web2 = lab.agents["web1"], lab.agents["web2"]
    assert wait_for(lambda: all_active([web1, web2]))
    web2.signal(signal.SIGTERM)
    assert web2.process.wait(timeout=20) == 0
    assert wait_for(lambda: status_of(web1, "web2") == ("dead", 1), timeout=20)
    stopped = web2.cl_status("hbstatus")
    assert (stopped.returncode, stopped.stdout) == (1, "Heartbeat is stopped on this machine.\n")
    signon = web2.cl_status("nodestatus", "web1")
    assert (signon.returncode, signon.stderr) == (1, "Cannot signon with heartbeat\n")
    assert "Heartbeat shutdown complete." in web2.log()


def test_daemon_drives_the_resource_manager_vip_failover(lab, wait_for):
    """Membership events reach rscmgr; its Acquire runs in the worker; the VIP moves on a crash."""
    vip = "10.213.30.50"
    lab.build(["web1", "web2"])
    lab.configure(MEDIA["bcast"], FAST, haresources=f"web1 IPaddr::{vip}/24/eth0\n")
    web1, web2 = lab.agents["web1"], lab.agents["web2"]
    for agent in (web1, web2):
        agent.start(resources=True)
    assert wait_for(lambda: all_active([web1, web2]))
    assert wait_for(lambda: web1.cl_status("rscstatus").stdout == "local\n"), web1.cl_status(
        "rscstatus"
    ).stdout
    assert wait_for(lambda: f"inet {vip}/24" in web1.addresses())
    assert f"inet {vip}/" not in web2.addresses()
    assert web2.cl_status("rscstatus").stdout == "local\n"  # its own (empty) set: Heartbeat's bits
    web1.signal(signal.SIGKILL)
    assert wait_for(lambda: f"inet {vip}/24" in web2.addresses(), timeout=30)
    assert wait_for(lambda: web2.cl_status("rscstatus").stdout == "all\n")
    assert "node web1: is dead" in web2.log()
