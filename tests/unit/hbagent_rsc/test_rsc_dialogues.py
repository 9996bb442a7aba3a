"""rscmgr against a scripted real-Heartbeat peer: the observed sequences of spec §9, line by line.

The peer's lines are fed exactly as captured from 3.0.6; what our node sends must be what the real
node sent in its place. Known wire reordering: 3.0.6 can put a message caused by processing its own
looped-back copy on the wire before that copy (spec §6.2); we emit the causal order and say so below.
"""

import json

import pytest
from hbrsc_sim import SPEC_GROUPS, FakeClock, msg, new_node

from hbagent.config import parse_haresources
from hbagent.rscmgr import ResourceManager, Send

A_GROUP, B_GROUP = "10.99.0.50/24", "10.99.0.51/24"


def started_alone(name="web1", clock=None):
    """§9.1 up to stability: the node holds everything."""
    node = new_node(name, SPEC_GROUPS, clock=clock or FakeClock())
    node.handle(node.mgr.peer_dead("web2" if name == "web1" else "web1"))  # initdead expired first
    node.handle(node.mgr.comm_up())
    node.mgr._clock.advance(10.5)
    node.handle(node.mgr.tick())
    return node


def feed(node, peer, *lines):
    for text in lines:
        kind, *pairs = text.split()
        node.handle(node.mgr.message(peer, msg(f"t={kind}", *pairs)))


def test_9_1_starts_alone():
    clock = FakeClock()
    node = new_node("web1", SPEC_GROUPS, clock=clock)
    node.handle(node.mgr.peer_dead("web2"))  # "node web2: is dead" is logged before comm-up
    assert node.trace == []
    node.handle(node.mgr.comm_up())
    assert node.trace == [
        ("send", "starting"),
        ("send", "stonith node=web2 result=n_stnth"),
        ("acquire", (A_GROUP,), "all"),
        ("send", "resource rsc_hold=all rtype=full isstable=1 info=req_our_resources()"),
        ("acquire", (B_GROUP,), "all"),
        ("send", "resource rsc_hold=foreign info=mach_down"),
    ]
    assert "No STONITH device configured." in [entry.text for entry in node.logs]
    # its own resource message moved it to RSCRCVD: transition for RQSTDELAY (10 s), then stable
    assert node.mgr.rscstatus() == "transition"
    clock.advance(9.9)
    node.clear()
    node.handle(node.mgr.tick())
    assert node.trace == [] and node.mgr.rscstatus() == "transition"
    clock.advance(0.2)
    node.handle(node.mgr.tick())
    assert node.sends() == ["resource rsc_hold=all rtype=full isstable=1"]
    assert node.mgr.rscstatus() == "all"
    assert node.resource_ops() == []  # already holds its own groups: "(none)"
    assert node.errors() == []


def test_9_2_joining_node_against_real_holder():
    """We are web2 (B); web1 (A) is a real 3.0.6 node holding everything."""
    node = new_node("web2", SPEC_GROUPS)
    node.handle(node.mgr.peer_status("web1", "active"))
    node.handle(node.mgr.comm_up())
    assert node.sends() == ["starting"]
    node.clear()
    feed(node, "web1", "resource rsc_hold=all rtype=full isstable=1")
    # the isstable 0 -> 1 dance the holder needs to re-evaluate auto-failback
    assert node.sends() == [
        "resource rsc_hold=none rtype=full isstable=0",
        "resource rsc_hold=none rtype=full isstable=1",
    ]
    assert node.resource_ops() == []  # the other side holds our groups: "(none)"
    node.clear()
    feed(
        node, "web1", "resource rsc_hold=all rtype=full isstable=1", "ask_resources rsc_hold=foreign info=me"
    )
    assert node.sends() == ["ask_resources rsc_hold=foreign info=other"]
    assert node.mgr.rscstatus() == "transition"
    node.clear()
    feed(
        node,
        "web1",
        "resource rsc_hold=local rtype=full isstable=0 info=standby",
        "ask_resources rsc_hold=foreign info=done",
    )
    # on the wire 3.0.6 showed `resource … isstable=1` before `done`: the causal order is done first
    assert node.trace == [
        ("acquire", (B_GROUP,), "all"),
        ("send", "ask_resources rsc_hold=foreign info=done"),
        ("send", "resource rsc_hold=local rtype=full isstable=1"),
    ]
    node.clear()
    feed(
        node,
        "web1",
        "resource rsc_hold=local rtype=full isstable=1",
        "resource rsc_hold=local rtype=full isstable=1",
    )
    assert node.sends() == ["resource rsc_hold=local rtype=full isstable=1"]
    assert node.mgr.rscstatus() == "local"
    assert node.errors() == []


def test_9_2_holder_sends_isstable_0_first_too():
    """ "sometimes isstable=0 first, then 1": the joiner must not act on the 0."""
    node = new_node("web2", SPEC_GROUPS)
    node.handle(node.mgr.peer_status("web1", "active"))
    node.handle(node.mgr.comm_up())
    node.clear()
    feed(node, "web1", "resource rsc_hold=all rtype=full isstable=0")
    assert node.sends() == []
    feed(node, "web1", "resource rsc_hold=all rtype=full isstable=1")
    assert node.sends() == [
        "resource rsc_hold=none rtype=full isstable=0",
        "resource rsc_hold=none rtype=full isstable=1",
    ]


def test_9_2_holder_against_real_joiner():
    """We are web1 (A) holding all after §9.1; web2 (B) is a real 3.0.6 node joining."""
    node = started_alone()
    node.clear()
    node.handle(node.mgr.peer_status("web2", "init"))
    feed(node, "web2", "starting")
    assert node.sends() == ["resource rsc_hold=all rtype=full isstable=1"]
    node.clear()
    feed(node, "web2", "resource rsc_hold=none rtype=full isstable=0")
    assert node.sends() == []
    feed(node, "web2", "resource rsc_hold=none rtype=full isstable=1")
    assert node.sends() == [
        "resource rsc_hold=all rtype=full isstable=1",
        "ask_resources rsc_hold=foreign info=me",
    ]
    node.clear()
    feed(node, "web2", "ask_resources rsc_hold=foreign info=other")
    assert node.trace == [
        ("send", "resource rsc_hold=local rtype=full isstable=0 info=standby"),
        ("release", (B_GROUP,), "all"),
        ("send", "ask_resources rsc_hold=foreign info=done"),
    ]
    node.clear()
    feed(
        node,
        "web2",
        "ask_resources rsc_hold=foreign info=done",
        "resource rsc_hold=local rtype=full isstable=1",
    )
    assert node.sends() == ["resource rsc_hold=local rtype=full isstable=1"] * 2
    assert [entry.text for entry in node.logs if "completed standby" in entry.text] == [
        "Other node completed standby takeover of foreign resources."
    ]
    feed(node, "web2", "resource rsc_hold=local rtype=full isstable=1")
    assert node.mgr.rscstatus() == "local"
    assert node.errors() == []


def holder_and_joiner_settled():
    node = started_alone()
    node.handle(node.mgr.peer_status("web2", "active"))
    feed(
        node,
        "web2",
        "starting",
        "resource rsc_hold=none rtype=full isstable=0",
        "resource rsc_hold=none rtype=full isstable=1",
        "ask_resources rsc_hold=foreign info=other",
        "ask_resources rsc_hold=foreign info=done",
        "resource rsc_hold=local rtype=full isstable=1",
    )
    assert node.mgr.rscstatus() == "local"
    node.clear()
    return node


def test_9_4_remaining_node_on_graceful_stop_of_real_peer():
    node = holder_and_joiner_settled()
    feed(node, "web2", "resource rsc_hold=none rtype=full isstable=0 info=shutdown")
    assert node.trace == []
    feed(node, "web2", "shutdone st=dead")
    # 3.0.6 put `resource all isstable=1` before `ask_resources … done` on the wire (§9.4)
    assert node.trace == [
        ("acquire", (A_GROUP,), "all"),
        ("send", "resource rsc_hold=all rtype=full isstable=1 info=req_our_resources()"),
        ("send", "ask_resources rsc_hold=foreign info=done"),
        ("send", "resource rsc_hold=all rtype=full isstable=1"),
        ("acquire", (B_GROUP,), "all"),
        ("send", "resource rsc_hold=foreign info=mach_down"),
    ]
    assert "Received shutdown notice from 'web2'." in [entry.text for entry in node.logs]
    node.clear()
    node.handle(node.mgr.peer_dead("web2"))  # ~12 s later: dt expired
    assert node.trace == [("send", "stonith node=web2 result=unneeded")]
    assert "Dead node web2 gave up resources." in [entry.text for entry in node.logs]
    assert node.mgr.rscstatus() == "all"
    assert node.errors() == []


def test_9_4_leaving_node():
    node = holder_and_joiner_settled()
    node.handle(node.mgr.shutdown())
    assert node.trace == [
        ("send", "resource rsc_hold=none rtype=full isstable=0 info=shutdown"),
        ("release", (A_GROUP, B_GROUP), "all"),  # every group of haresources, givegroup is idempotent
        ("send", "shutdone st=dead"),
        ("shutdown_done", True),
    ]
    assert node.replies[-1].ok


def test_9_5_peer_crash():
    node = holder_and_joiner_settled()
    node.handle(node.mgr.peer_dead("web2"))
    assert node.trace == [
        ("send", "stonith node=web2 result=n_stnth"),
        ("acquire", (A_GROUP,), "all"),
        ("send", "resource rsc_hold=all rtype=full isstable=1 info=req_our_resources()"),
        ("acquire", (B_GROUP,), "all"),
        ("send", "resource rsc_hold=foreign info=mach_down"),
    ]
    assert node.mgr.rscstatus() == "all"
    assert node.mgr.snapshot()["needs_failback"] is True


def test_9_6_restart_after_crash_gets_failback():
    node = holder_and_joiner_settled()
    node.handle(node.mgr.peer_dead("web2"))
    node.clear()
    node.handle(node.mgr.peer_status("web2", "up"))  # "Heartbeat restart on node web2"
    feed(
        node,
        "web2",
        "starting",
        "resource rsc_hold=none rtype=full isstable=0",
        "resource rsc_hold=none rtype=full isstable=1",
    )
    assert node.sends() == [
        "resource rsc_hold=all rtype=full isstable=1",
        "resource rsc_hold=all rtype=full isstable=1",
        "ask_resources rsc_hold=foreign info=me",
    ]


def test_holder_reevaluates_failback_only_on_isstable_0_to_1():
    """Why a returning node always sends isstable=0 then 1: a lone isstable=1 from a peer already
    counted as stable (it was dead, so "stable") changes nothing on the holder."""
    node = holder_and_joiner_settled()
    node.handle(node.mgr.peer_dead("web2"))
    node.clear()
    feed(node, "web2", "resource rsc_hold=none rtype=full isstable=1")
    assert node.sends() == []
    feed(
        node,
        "web2",
        "resource rsc_hold=none rtype=full isstable=0",
        "resource rsc_hold=none rtype=full isstable=1",
    )
    assert node.sends() == [
        "resource rsc_hold=all rtype=full isstable=1",
        "ask_resources rsc_hold=foreign info=me",
    ]


def test_both_starting_take_their_own_after_rscrcvd_timeout():
    clock = FakeClock()
    node = new_node("web1", SPEC_GROUPS, clock=clock)
    node.handle(node.mgr.peer_status("web2", "up"))
    node.handle(node.mgr.comm_up())
    feed(node, "web2", "starting")
    assert node.mgr.state.value == "RSCRCVD"  # via our own reply, as 3.0.6 does
    feed(node, "web2", "resource rsc_hold=none rtype=full isstable=0")
    node.clear()
    clock.advance(10.01)
    node.handle(node.mgr.tick())
    assert node.trace == [
        ("send", "resource rsc_hold=local rtype=full isstable=1"),
        ("acquire", (A_GROUP,), "all"),
        ("send", "resource rsc_hold=local rtype=full isstable=1 info=req_our_resources()"),
    ]
    assert "local resource transition completed." in [entry.text for entry in node.logs]


def test_unknown_fields_messages_for_others_and_own_copies_are_ignored():
    node = started_alone()
    node.clear()
    node.handle(node.mgr.message("web1", msg("t=starting")))  # our own looped-back copy
    node.handle(node.mgr.message("web2", msg("t=ask_resources", "dest=web3", "rsc_hold=all", "info=me")))
    node.handle(
        node.mgr.message("web2", msg("t=ip-request-resp", "dest=web2", "ipaddr=x", "weown=yes", "ok=OK"))
    )
    assert node.trace == []
    feed(node, "web2", "starting")
    node.clear()
    feed(
        node,
        "web2",
        "resource rsc_hold=none rtype=full isstable=0 hbagent_future=1",
        "resource rsc_hold=none rtype=full isstable=1 x=y",
    )
    assert node.sends()[-1] == "ask_resources rsc_hold=foreign info=me"


def test_messages_before_comm_up_are_dropped_like_3_0_6():
    node = new_node("web2", SPEC_GROUPS)
    feed(node, "web1", "starting", "resource rsc_hold=all rtype=full isstable=1")
    assert node.trace == [] and node.mgr.state.value == "INIT"


def test_group_keys_come_from_the_real_parser():
    groups = parse_haresources(
        "web1 IPaddr::10.213.10.50/24/eth0 apache2\nweb2 10.213.10.51\n", nodes=["web1", "web2"]
    )
    node = new_node("web1", groups)
    node.handle(node.mgr.peer_dead("web2"))
    node.handle(node.mgr.comm_up())
    assert node.resource_ops() == [
        ("acquire", ("IPaddr::10.213.10.50/24/eth0",), "all"),
        ("acquire", ("10.213.10.51",), "all"),
    ]


def test_snapshot_is_json_and_fields_are_tuples():
    node = started_alone()
    snap = json.loads(json.dumps(node.mgr.snapshot()))
    assert snap["rscstatus"] == "all" and snap["held"] == [A_GROUP, B_GROUP] and snap["state"] == "STABLE"
    sends = [a for a in node.mgr.standby("all") if isinstance(a, Send)]
    assert sends == []  # peer dead: refused, nothing sent


def test_constructor_refuses_bad_setups():
    with pytest.raises(ValueError, match="exactly two nodes"):
        ResourceManager("web1", ["web1", "web2", "web3"], SPEC_GROUPS)
    with pytest.raises(ValueError, match="auto_failback"):
        ResourceManager("web1", ["web1", "web2"], SPEC_GROUPS, "sometimes")
    with pytest.raises(ValueError, match="make-before-break"):
        ResourceManager("web1", ["web1", "web2"], SPEC_GROUPS, mbb_groups=["nope"])
