"""Harness check: two REAL Heartbeat 3.0.6 nodes see each other, so failures elsewhere are the agent's."""

import interop_harness as hb
import pytest

pytestmark = pytest.mark.podman

GROUPS = [("web1", f"IPaddr::{hb.VIP}/24/eth0")]


def test_real_pair_sanity(clean_lab, authkey):
    web1, web2 = clean_lab["web1"], clean_lab["web2"]
    for node in (web1, web2):
        node.configure(key=authkey, groups=GROUPS)
        node.start_heartbeat()

    for node, peer in ((web1, "web2"), (web2, "web1")):
        hb.wait_for(f"{node.name} to see {peer} active",
                    lambda n=node, p=peer: n.cl_status("nodestatus", p) == (0, "active"), timeout=60)
        assert node.cl_status("nodestatus", node.name) == (0, "active")
        rc, listed = node.cl_status("listnodes")
        assert rc == 0 and sorted(listed.split()) == ["web1", "web2"]
        assert node.cl_status("hblinkstatus", peer, "eth0") == (0, "up")

    # web1 is the preferred node of the only group: it ends up holding the VIP, web2 does not.
    hb.wait_for("the VIP on web1", web1.has_vip, timeout=60)
    assert not web2.has_vip()
    for node in (web1, web2):
        log = node.ha_log()
        assert hb.count_matches(hb.AUTH_FAILURE, log) == []
        assert len(hb.count_matches(hb.REXMIT, log)) <= 5


def test_real_pair_crash_detection(clean_lab, authkey):
    """Reference for the agent tests: a real node notices a SIGKILLed real peer within deadtime."""
    web1, web2 = clean_lab["web1"], clean_lab["web2"]
    for node in (web1, web2):
        node.configure(key=authkey, groups=GROUPS)
        node.start_heartbeat()
    hb.wait_for("web1 to see web2 active", lambda: web1.cl_status("nodestatus", "web2") == (0, "active"),
                timeout=60)

    web2.kill_heartbeat()
    hb.wait_for("web1 to declare web2 dead", lambda: web1.cl_status("nodestatus", "web2") == (1, "dead"),
                timeout=hb.DEADTIME_S + hb.DEAD_MARGIN_S)
    assert "node web2: is dead" in web1.ha_log()
    assert web1.cl_status("hblinkstatus", "web2", "eth0") == (1, "dead")
