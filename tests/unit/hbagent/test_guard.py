"""guard.py: the order of the takeover checks (uplink before fencing) and what it reports."""

from hbagent.config import parse_ha_cf
from hbagent.fencing import RunFence, fence_method
from hbagent.guard import Cleared, Guard, Reboot
from hbagent.rscmgr import LOCAL


class Holding:
    def __init__(self, bits=LOCAL):
        self.bits = bits

    def holding(self):
        return self.bits


def guard(extra="", ping_nodes=0, reboot=None):
    ha_cf = parse_ha_cf(f"keepalive 500ms\ndeadtime 3\nbcast eth0\nnode web1 web2\nauto_failback on\n{extra}")
    return Guard("web2", "web1", ha_cf, Holding(), ping_nodes=ping_nodes, fence=fence_method(ha_cf, None, "web2"),
                 reboot=reboot)  # fmt: skip


def test_unguarded_the_takeover_is_cleared_at_once_as_3_0_6_without_stonith():
    g = guard()
    assert not g.guarded
    assert g.takeover_requested(0.0) == [Cleared("n_stnth")]


def test_a_blind_node_neither_fences_nor_takes_over_until_a_ping_node_answers():
    g = guard("ping 10.0.0.1\nstonith_host * null web1 web2", ping_nodes=1)
    g.peer_status("init", "active", 0.0)
    g.ping_count(1, 0.0)
    g.message({"t": "num_ping_nodes", "num_ping": "1"}, 0.0)
    g.peer_status("active", "dead", 5.0)
    g.ping_count(0, 5.0)  # this node is the one cut off
    (log,) = g.takeover_requested(5.1)
    assert log.level == "crit" and "blocked: this node reaches none of its 1 ping nodes" in log.text
    assert g.tick(60.0) == [] and "reaches none" in g.blocked()
    actions = g.ping_count(1, 61.0)  # the uplink is back, the peer still silent: fence, then take over
    (run,) = [a for a in actions if isinstance(a, RunFence)]
    assert run.argv[-2:] == ("reset", "web1") and g.blocked() == "fencing web1"
    assert Cleared("OK") in g.fence_done("reset", True, 0, "", 62.0)
    assert g.blocked() is None


def test_a_failed_fence_is_reported_as_the_reason_the_takeover_waits():
    g = guard("stonith_host * ssh nonode")
    g.peer_status("init", "dead", 0.0)
    g.takeover_requested(0.0)
    g.fence_done("reset", False, 4, "exit code 4", 0.1)
    assert g.blocked() == "fencing web1 failed (exit code 4); retrying"
    assert g.snapshot()["fencing"]["state"] == "failed"
    g.peer_status("dead", "active", 3.0)  # it was alive after all
    assert g.blocked() is None and g.tick(100.0) == []


def test_a_stop_failure_reboots_only_when_asked():
    assert isinstance(guard(reboot=["/sbin/reboot", "-n", "-f"]).stop_failed(["svc"])[0], Reboot)
    (log,) = guard().stop_failed(["svc"])
    assert log.level == "crit" and "not rebooting (stop_failure block)" in log.text
