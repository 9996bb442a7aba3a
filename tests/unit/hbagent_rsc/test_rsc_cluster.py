"""rscmgr: two of our nodes on a FIFO wire — failback modes, standby/takeover, shutdown, failures,
make-before-break and legacy mode. Resource actions are executed by a recording fake."""

import pytest
from hbrsc_sim import LAB_GROUPS, SPEC_GROUPS, Cluster, group, msg, new_node

from hbagent.rscmgr import Acquire, Release, ShutdownDone

A_GROUP, B_GROUP = "10.99.0.50/24", "10.99.0.51/24"


def settled(groups=SPEC_GROUPS, auto_failback="on", mbb_groups=(), auto=True):
    """web1 starts alone and becomes stable; web2 joins; everything is delivered. With auto=False
    the resource actions that follow wait for c.complete(node)."""
    c = Cluster(groups, auto_failback, mbb_groups)
    c.start("web1")
    c.deliver()
    c.tick(10.5)
    c.deliver()
    c.start("web2")
    c.deliver()
    for node in c.nodes.values():
        node.auto = auto
    return c


def held(c, name):
    return c[name].mgr.snapshot()["held"]


def no_errors(c):
    for name in c.nodes:
        assert c[name].errors() == [], name


# ---------------------------------------------------------------------------- failback modes


def test_auto_failback_on_gives_the_joiner_its_groups():
    c = settled()
    assert held(c, "web1") == [A_GROUP] and held(c, "web2") == [B_GROUP]
    assert (c["web1"].mgr.rscstatus(), c["web2"].mgr.rscstatus()) == ("local", "local")
    # the move was a release on web1 strictly before the acquisition on web2
    ops = [(n, e[0], e[1]) for n, e in c.timeline if e[0] in ("acquire", "release") and B_GROUP in e[1]]
    assert ops[-2:] == [("web1", "release", (B_GROUP,)), ("web2", "acquire", (B_GROUP,))]
    no_errors(c)


def test_auto_failback_off_leaves_the_joiner_idle_until_asked():
    c = settled(auto_failback="off")
    assert not any(t.startswith("ask_resources") for _, t in c.sends())
    assert held(c, "web1") == [A_GROUP, B_GROUP] and held(c, "web2") == []
    assert (c["web1"].mgr.rscstatus(), c["web2"].mgr.rscstatus()) == ("all", "none")
    # the returning node asks for its own groups (hb_takeover failback)
    mark = c.mark()
    c.act("web2", lambda m: m.takeover("failback"))
    c.deliver()
    assert [
        e[1] for _, e in c.since(mark) if e[0] == "send" and e[1].startswith(("hb_takeover", "ask_"))
    ] == [
        "hb_takeover rsc_hold=failback",
        "ask_resources rsc_hold=foreign info=me",
        "ask_resources rsc_hold=foreign info=other",
        "ask_resources rsc_hold=foreign info=done",
        "ask_resources rsc_hold=foreign info=done",
    ]
    assert ("web1", ("release", (B_GROUP,), "all")) in c.since(mark)
    assert held(c, "web1") == [A_GROUP] and held(c, "web2") == [B_GROUP]
    assert (c["web1"].mgr.rscstatus(), c["web2"].mgr.rscstatus()) == ("local", "local")
    no_errors(c)


def test_auto_failback_off_no_failback_after_crash_and_return():
    c = settled(auto_failback="off")
    c.act("web1", lambda m: m.standby("foreign"))
    c.deliver()
    assert held(c, "web2") == [B_GROUP]
    c.crash("web2")
    c.deliver()
    c.replace("web2", auto_failback="off")
    c.start("web2")
    c.deliver()
    c.tick(2)
    assert held(c, "web1") == [A_GROUP, B_GROUP] and held(c, "web2") == []


# ---------------------------------------------------------------------------- standby / takeover


@pytest.mark.parametrize(
    ("which", "web1_keeps", "web2_gets"),
    [
        ("all", [], [A_GROUP, B_GROUP]),
        ("local", [], [A_GROUP, B_GROUP]),  # web2 already held its own
        ("foreign", [A_GROUP], [B_GROUP]),  # web1 holds no foreign: nothing moves
    ],
)
def test_hb_standby(which, web1_keeps, web2_gets):
    c = settled()
    c.act("web1", lambda m: m.standby(which))
    assert c["web1"].replies[-1].ok
    c.deliver()
    assert held(c, "web1") == web1_keeps
    assert held(c, "web2") == web2_gets
    expected = {"all": ("none", "all"), "local": ("none", "all"), "foreign": ("local", "local")}[which]
    assert (c["web1"].mgr.rscstatus(), c["web2"].mgr.rscstatus()) == expected
    no_errors(c)


def test_standby_then_takeover_back():
    c = settled()
    c.act("web1", lambda m: m.standby("all"))
    c.deliver()
    assert held(c, "web2") == [A_GROUP, B_GROUP]
    c.act("web1", lambda m: m.takeover("local"))  # web1 wants its own group back
    c.deliver()
    assert held(c, "web1") == [A_GROUP] and held(c, "web2") == [B_GROUP]
    assert (c["web1"].mgr.rscstatus(), c["web2"].mgr.rscstatus()) == ("local", "local")
    c.act("web1", lambda m: m.takeover("foreign"))  # and now web2's too
    c.deliver()
    assert held(c, "web1") == [A_GROUP, B_GROUP] and held(c, "web2") == []
    no_errors(c)


def test_hb_takeover_failback_from_a_real_peer_means_its_local_groups():
    c = settled()
    c.act("web1", lambda m: m.standby("local"))
    c.deliver()
    mark = c.mark()
    c.act("web2", lambda m: m.message("web1", msg("t=hb_takeover", "rsc_hold=failback")))
    assert c.since(mark)[-1] == ("web2", ("send", "ask_resources rsc_hold=foreign info=me"))


@pytest.mark.parametrize(
    ("setup", "which", "reason"),
    [
        ("alone", "all", "not alive"),
        ("settled", "sideways", "wrong resources"),
        ("before_comm", "all", "communication is not up"),
        ("in_flux", "all", "Other side is in flux"),
    ],
)
def test_standby_refusals(setup, which, reason):
    if setup == "before_comm":
        node = new_node("web1", SPEC_GROUPS)
        node.handle(node.mgr.standby(which))
    else:
        c = Cluster(SPEC_GROUPS)
        c.start("web1")
        c.deliver()
        c.tick(10.5)
        if setup != "alone":
            c.start("web2")
            c.deliver()
        if setup == "in_flux":
            c.act(
                "web1",
                lambda m: m.message("web2", msg("t=resource", "rsc_hold=local", "rtype=full", "isstable=0")),
            )
        node = c["web1"]
        node.clear()
        node.handle(node.mgr.standby(which))
    assert not node.replies[-1].ok and reason in node.replies[-1].text
    assert node.sends() == []


def test_standby_request_without_reply_is_cancelled_after_10s():
    c = settled()
    c.alive["web2"] = False  # silent, not yet declared dead
    c.act("web1", lambda m: m.standby("all"))
    assert c["web1"].mgr.rscstatus() == "transition"
    c.tick(9.9)
    assert c["web1"].mgr.snapshot()["going_standby"] == "me"
    c.tick(0.2)
    assert c["web1"].mgr.snapshot()["going_standby"] == "not"
    assert "No reply to standby request.  Standby request cancelled." in [e.text for e in c["web1"].logs]
    assert c["web1"].mgr.rscstatus() == "local" and held(c, "web1") == [A_GROUP]


def test_peer_death_during_standby_cancels_it_and_takes_over():
    c = settled(auto=False)
    c.act("web1", lambda m: m.standby("local"))
    c.deliver()  # me -> other -> web1 starts releasing (outstanding)
    assert c["web1"].pending is not None
    c.complete("web1")
    c.deliver()  # done reaches web2, which starts acquiring ...
    c.crash("web2")  # ... and dies before finishing
    assert "Cancelling pending standby operation" in [e.text for e in c["web1"].logs]
    while c["web1"].pending is not None:
        c.complete("web1")
    assert held(c, "web1") == [A_GROUP, B_GROUP]
    assert c["web1"].mgr.rscstatus() == "all"


def test_late_message_from_a_dead_peer_does_not_make_it_alive():
    c = settled()
    c.crash("web2")
    c.act(
        "web1", lambda m: m.message("web2", msg("t=resource", "rsc_hold=local", "rtype=full", "isstable=1"))
    )
    c.act("web1", lambda m: m.standby("all"))
    assert not c["web1"].replies[-1].ok and "not alive" in c["web1"].replies[-1].text


def test_peer_restart_cancels_a_standby_it_forgot():
    c = settled(MBB_GROUPS, mbb_groups=[MBB_KEY], auto=False)
    c.act("web1", lambda m: m.standby("all"))
    c.deliver()  # web2 accepted and is pre-starting apache
    assert c["web2"].mgr.snapshot()["going_standby"] == "other"
    c.complete("web2")  # apache
    assert c["web2"].pending == Acquire((MBB_KEY,), "ip")
    c.complete("web2")  # the VIP, on both nodes now
    c.wire.clear()  # web1 restarts before seeing `ready`: it never will
    c.alive["web1"] = False
    c.replace("web1", mbb_groups=[MBB_KEY])
    c["web1"].auto = True
    c.start("web1")
    c.deliver()
    snap = c["web2"].mgr.snapshot()
    assert snap["going_standby"] == "not"
    assert c["web2"].pending == Release((MBB_KEY,), "all")  # the pre-started apache and VIP go away
    c["web2"].auto = True
    c.complete("web2")
    c.deliver()
    c.tick(11)
    c.deliver()
    assert c["web2"].mgr.snapshot()["prestarted"] == []
    assert c["web2"].running[MBB_KEY] == set()
    assert "web1 restarted: cancelling pending standby operation" in [e.text for e in c["web2"].logs]


# ---------------------------------------------------------------------------- shutdown


def test_shutdown_waits_for_resource_activity():
    c = settled(auto=False)
    c.act("web1", lambda m: m.standby("foreign"))
    c.deliver()  # givegroup of the foreign groups (idempotent) is outstanding on web1
    assert c["web1"].pending is not None
    c.act("web1", lambda m: m.shutdown())
    assert "Shutdown delayed until current resource activity finishes." in [e.text for e in c["web1"].logs]
    assert "resource rsc_hold=none rtype=full isstable=0 info=shutdown" not in c["web1"].sends()
    c.complete("web1")
    c.deliver()  # web2 now takes its local groups
    assert "resource rsc_hold=none rtype=full isstable=0 info=shutdown" not in c["web1"].sends()
    while any(node.pending for node in c.nodes.values()):
        for name, node in c.nodes.items():
            if node.pending:
                c.complete(name)
        c.deliver()
    assert c["web1"].shutdown and c["web1"].shutdown[-1].ok
    assert ("web1", "shutdone st=dead") in c.sends()
    assert held(c, "web2") == [A_GROUP, B_GROUP]  # took web1's group on its shutdone
    assert held(c, "web1") == []


def test_shutdown_before_comm_up_releases_quietly():
    node = new_node("web1", SPEC_GROUPS)
    node.handle(node.mgr.shutdown())
    assert node.trace == [("release", (A_GROUP, B_GROUP), "all"), ("shutdown_done", True)]


def test_shutdown_requested_while_starting_proceeds_when_the_peer_dies():
    c = Cluster(SPEC_GROUPS)
    c.start("web1")
    c.deliver()
    c.tick(10.5)
    c.alive["web2"] = True  # web2 talks but never gets to its resource reply
    c.act("web2", lambda m: m.peer_status("web1", "active"))
    c.act("web2", lambda m: m.comm_up())
    c.wire.clear()
    c.act("web2", lambda m: m.shutdown())
    assert c["web2"].shutdown == [] and c["web2"].mgr.state.value == "STARTING"
    c.act("web2", lambda m: m.peer_dead("web1"))
    assert c["web2"].shutdown and c["web2"].shutdown[-1].ok
    assert c["web2"].sends()[-1] == "shutdone st=dead"


def test_stop_failure_on_shutdown_does_not_claim_shutdone():
    c = settled()
    c["web1"].fail_stop.add(A_GROUP)
    c.act("web1", lambda m: m.shutdown())
    assert c["web1"].shutdown[-1].ok is False and c["web1"].shutdown[-1].failed == (A_GROUP,)
    assert "shutdone st=dead" not in c["web1"].sends()
    assert any("STOP failure" in text for text in c["web1"].errors())


def test_stop_failure_during_standby_aborts_it_and_keeps_the_group():
    c = settled()
    c["web1"].fail_stop.add(A_GROUP)
    c.act("web1", lambda m: m.standby("local"))
    c.deliver()
    assert "ask_resources rsc_hold=local info=done" not in c["web1"].sends()
    assert c["web1"].sends()[-1] == "resource rsc_hold=local rtype=full isstable=1"
    assert held(c, "web1") == [A_GROUP]
    assert A_GROUP not in held(c, "web2")
    assert c["web1"].mgr.snapshot()["stop_failed"] == [A_GROUP]


def test_failed_start_gives_the_group_up_and_asks_standby_30s_later():
    c = Cluster(SPEC_GROUPS)
    c["web1"].fail_start.add(A_GROUP)
    c.start("web1")
    c.deliver()
    assert "Giving up resources due to failure of group 10.99.0.50/24" in c["web1"].errors()
    assert held(c, "web1") == [B_GROUP]
    c.tick(10.5)
    c.start("web2")  # web2 comes in; failback moves B_GROUP to it
    c.deliver()
    mark = c.mark()
    c.tick(20)  # 30 s after the failure: hb_standby local on web1
    c.deliver()
    assert ("web1", ("send", "ask_resources rsc_hold=local info=me")) in c.since(mark)
    assert held(c, "web2") == [A_GROUP, B_GROUP]


# ---------------------------------------------------------------------------- make-before-break

MBB_GROUPS = [group("web1", "IPaddr::10.213.10.50/24/eth0", "apache2")]
MBB_KEY = MBB_GROUPS[0].key


def order_of(c, mark, *wanted):
    """Positions of (node, entry) items in the timeline after mark; all must be present."""
    timeline = c.since(mark)
    return [timeline.index(item) for item in wanted]


def crash_return_failback(mbb_web1=(MBB_KEY,), mbb_web2=(MBB_KEY,)):
    c = Cluster(MBB_GROUPS, mbb_groups=mbb_web1)
    c.replace("web2", mbb_groups=mbb_web2)
    c.start("web1")
    c.start("web2")
    c.deliver()
    c.tick(10.5)
    c.deliver()
    c.crash("web1")
    c.deliver()
    assert held(c, "web2") == [MBB_KEY]
    c.replace("web1", mbb_groups=mbb_web1)
    mark = c.mark()
    c.start("web1")
    c.deliver()
    return c, mark


def test_make_before_break_failback_order():
    c, mark = crash_return_failback()
    unannounce, prestart, prestart_ip, release_ip, done, take_all, release_rest = order_of(
        c,
        mark,
        ("web2", ("unannounce", (MBB_KEY,))),
        ("web1", ("acquire", (MBB_KEY,), "non_ip")),
        ("web1", ("acquire", (MBB_KEY,), "ip")),
        ("web2", ("release", (MBB_KEY,), "ip")),
        ("web2", ("send", "ask_resources rsc_hold=foreign info=done")),
        ("web1", ("acquire", (MBB_KEY,), "all")),
        ("web2", ("release", (MBB_KEY,), "non_ip")),
    )
    # web2 stops announcing, apache runs on web1, web1 adds (and announces) the VIP, and only then
    # does web2 let go of it: the VIP is never absent
    assert unannounce < prestart < prestart_ip < release_ip < done < take_all
    assert done < release_rest
    ready = c.since(mark).index(("web1", ("send", f"hbagent_mbb info=ready groups={MBB_KEY}")))
    assert prestart_ip < ready < release_ip
    assert not any(e == ("release", (MBB_KEY,), "all") for _, e in c.since(mark))
    # what a 3.0.6 peer would see is still the §8.6 sequence (+ fields it ignores)
    standby = [t for n, t in c.sends()[-12:] if t.startswith("ask_resources")]
    assert standby == [
        f"ask_resources rsc_hold=foreign info=me hbagent_mbb={MBB_KEY}",
        f"ask_resources rsc_hold=foreign info=other hbagent_mbb={MBB_KEY}",
        "ask_resources rsc_hold=foreign info=done",
        "ask_resources rsc_hold=foreign info=done",
    ]
    assert held(c, "web1") == [MBB_KEY] and held(c, "web2") == []
    assert c["web1"].running[MBB_KEY] == {"ip", "non_ip"} and c["web2"].running[MBB_KEY] == set()
    assert c["web1"].mgr.snapshot()["peer_is_hbagent"]
    no_errors(c)


def test_make_before_break_standby_with_slow_resources():
    c = settled(MBB_GROUPS, mbb_groups=[MBB_KEY], auto=False)
    c.act("web1", lambda m: m.standby("all"))
    c.deliver()
    assert c["web2"].pending == Acquire((MBB_KEY,), "non_ip")
    # web2 is still starting apache: web1 keeps serving on the VIP, even past the 10 s reply timer
    c.tick(15)
    c.deliver()
    assert c["web1"].pending is None and held(c, "web1") == [MBB_KEY]
    c.complete("web2")  # apache runs on web2
    assert c["web2"].pending == Acquire((MBB_KEY,), "ip")
    assert c["web2"].mgr.snapshot()["prestarted"] == [MBB_KEY]
    assert c["web2"].mgr.rscstatus() == "transition"
    c.complete("web2")  # the VIP is on both nodes -> ready
    assert c["web2"].running[MBB_KEY] == {"ip", "non_ip"} and c["web1"].running[MBB_KEY] == {"ip", "non_ip"}
    assert held(c, "web2") == []  # running there, not owned yet
    c.deliver()
    assert c["web1"].pending == Release((MBB_KEY,), "ip")
    c.complete("web1")  # VIP gone from web1 -> done; web1 then stops apache in the background
    assert c["web1"].pending == Release((MBB_KEY,), "non_ip")
    c.deliver()
    assert c["web2"].pending == Acquire((MBB_KEY,), "all")  # keeps what runs, checks it
    c.complete("web2")
    c.deliver()
    assert c["web2"].mgr.rscstatus() == "all"
    assert c["web1"].mgr.rscstatus() == "transition"  # still stopping its apache
    c.complete("web1")
    c.deliver()
    assert held(c, "web2") == [MBB_KEY] and c["web1"].mgr.rscstatus() == "none"
    no_errors(c)


def test_make_before_break_address_failure_moves_that_group_the_plain_way():
    c = settled(MBB_GROUPS, mbb_groups=[MBB_KEY], auto=False)
    c.act("web1", lambda m: m.standby("all"))
    c.deliver()
    c.complete("web2")  # apache
    c.act("web2", lambda m: m.acquire_done((MBB_KEY,), False, (MBB_KEY,)))  # the VIP could not be added
    c["web2"].pending = None
    assert ("web2", ("send", "hbagent_mbb info=ready")) in c.timeline
    c["web1"].auto = c["web2"].auto = True
    c.deliver()
    assert ("web1", ("release", (MBB_KEY,), "all")) in c.timeline
    assert held(c, "web2") == [MBB_KEY] and held(c, "web1") == []


def test_graceful_stop_hands_make_before_break_groups_over_first():
    c = settled(MBB_GROUPS, mbb_groups=[MBB_KEY])
    mark = c.mark()
    c.act("web1", lambda m: m.shutdown())
    c.deliver()
    events = c.since(mark)
    prestart_ip = events.index(("web2", ("acquire", (MBB_KEY,), "ip")))
    release_ip = events.index(("web1", ("release", (MBB_KEY,), "ip")))
    giveup = events.index(("web1", ("send", "resource rsc_hold=none rtype=full isstable=0 info=shutdown")))
    shutdone = events.index(("web1", ("send", "shutdone st=dead")))
    assert prestart_ip < release_ip < giveup < shutdone
    assert c["web1"].shutdown == [ShutdownDone(True)]
    assert held(c, "web2") == [MBB_KEY] and c["web1"].running[MBB_KEY] == set()
    assert "Received shutdown notice from 'web1'." in [e.text for e in c["web2"].logs]
    no_errors(c)


def test_graceful_stop_without_make_before_break_is_3_0_6():
    c = settled(MBB_GROUPS)
    mark = c.mark()
    c.act("web1", lambda m: m.shutdown())
    c.deliver()
    web1 = [e for n, e in c.since(mark) if n == "web1"]
    assert web1[:3] == [
        ("send", "resource rsc_hold=none rtype=full isstable=0 info=shutdown"),
        ("release", (MBB_KEY,), "all"),
        ("send", "shutdone st=dead"),
    ]
    assert held(c, "web2") == [MBB_KEY]


@pytest.mark.parametrize(("mbb_web1", "mbb_web2"), [((MBB_KEY,), ()), ((), (MBB_KEY,))])
def test_make_before_break_needs_the_group_listed_on_both_nodes(mbb_web1, mbb_web2):
    c, mark = crash_return_failback(mbb_web1, mbb_web2)
    parts = {e[2] for _, e in c.since(mark) if e[0] in ("acquire", "release")}
    assert parts == {"all"}
    assert not any(t.startswith("hbagent_mbb") for n, t in c.sends())
    assert held(c, "web1") == [MBB_KEY]


def test_make_before_break_against_a_real_peer_is_plain_8_6():
    """A 3.0.6 taker answers `other` without the field: release everything as usual."""
    node = new_node("web2", MBB_GROUPS, mbb_groups=[MBB_KEY])
    node.handle(node.mgr.peer_dead("web1"))
    node.handle(node.mgr.comm_up())
    node.mgr._clock.advance(11)
    node.handle(node.mgr.tick())
    node.handle(node.mgr.peer_status("web1", "active"))
    for line in (
        "starting",
        "resource rsc_hold=none rtype=full isstable=0",
        "resource rsc_hold=none rtype=full isstable=1",
    ):
        kind, *pairs = line.split()
        node.handle(node.mgr.message("web1", msg(f"t={kind}", *pairs)))
    node.clear()
    node.handle(node.mgr.message("web1", msg("t=ask_resources", "rsc_hold=foreign", "info=other")))
    assert node.trace == [
        ("send", "resource rsc_hold=local rtype=full isstable=0 info=standby"),  # local bit: no groups
        ("release", (MBB_KEY,), "all"),
        ("send", "ask_resources rsc_hold=foreign info=done"),
    ]


def test_make_before_break_prestart_failure_falls_back_to_a_plain_move():
    c = Cluster(MBB_GROUPS, mbb_groups=[MBB_KEY])
    c.start("web1")
    c.deliver()
    c.tick(10.5)
    c.start("web2")
    c.deliver()
    c["web2"].fail_start.add(MBB_KEY)
    mark = c.mark()
    c.act("web1", lambda m: m.standby("all"))
    c.deliver()
    assert ("web2", ("send", "hbagent_mbb info=ready")) in c.since(mark)
    assert ("web1", ("release", (MBB_KEY,), "all")) in c.since(mark)


# ---------------------------------------------------------------------------- legacy


def test_legacy_alone_then_peer_asks_for_its_group():
    c = Cluster(SPEC_GROUPS, "legacy")
    c.start("web1")
    c.deliver()
    assert c["web1"].trace == [
        ("send", "stonith node=web2 result=n_stnth"),
        ("acquire", (A_GROUP,), "all"),
        ("acquire", (B_GROUP,), "all"),
    ]
    assert c["web1"].mgr.rscstatus() == "all"
    mark = c.mark()
    c.start("web2")
    c.deliver()
    assert [(n, e) for n, e in c.since(mark)] == [
        ("web2", ("send", f"ip-request ipaddr={B_GROUP}")),
        ("web1", ("release", (B_GROUP,), "all")),
        ("web1", ("send", f"ip-request-resp dest=web2 ipaddr={B_GROUP} weown=yes ok=OK")),
        ("web2", ("acquire", (B_GROUP,), "all")),
    ]
    assert (c["web1"].mgr.rscstatus(), c["web2"].mgr.rscstatus()) == ("local", "local")
    c.act("web1", lambda m: m.standby("all"))
    assert not c["web1"].replies[-1].ok and "nice_failback" in c["web1"].replies[-1].text


def test_legacy_request_for_a_group_we_do_not_hold_and_graceful_stop():
    c = Cluster(SPEC_GROUPS, "legacy")
    c.start("web1")
    c.deliver()
    mark = c.mark()
    c.act("web1", lambda m: m.message("web2", msg("t=ip-request", "ipaddr=10.99.0.99/24")))
    c.act("web1", lambda m: m.message("web2", msg("t=ip-request", f"ipaddr={A_GROUP}")))
    c.start("web2")
    c.deliver()
    c.act("web2", lambda m: m.shutdown())
    c.deliver()
    assert ("web2", ("send", "shutdone st=dead")) in c.since(mark)
    assert not any(e[1].startswith("resource") for n, e in c.since(mark) if e[0] == "send")
    assert held(c, "web1") == [A_GROUP, B_GROUP]
    mark = c.mark()
    c.gone("web2")
    assert c.since(mark)[0] == ("web1", ("send", "stonith node=web2 result=unneeded"))
    assert held(c, "web1") == [A_GROUP, B_GROUP]


def test_lab_config_everything_on_web1():
    c = settled(LAB_GROUPS)
    key = LAB_GROUPS[0].key
    assert held(c, "web1") == [key] and held(c, "web2") == []
    assert (c["web1"].mgr.rscstatus(), c["web2"].mgr.rscstatus()) == ("local", "local")
    c.crash("web1")
    assert held(c, "web2") == [key] and c["web2"].mgr.rscstatus() == "all"
    c.replace("web1")
    c.start("web1")
    c.deliver()
    assert held(c, "web1") == [key] and held(c, "web2") == []
    no_errors(c)


def test_done_reports_must_match_the_outstanding_action():
    node = new_node("web1", SPEC_GROUPS, auto=False)
    node.handle(node.mgr.peer_dead("web2"))
    node.handle(node.mgr.comm_up())
    with pytest.raises(RuntimeError, match="release_done without"):
        node.mgr.release_done([A_GROUP], True)
    with pytest.raises(RuntimeError, match="outstanding acquire"):
        node.mgr.acquire_done([B_GROUP], True)


def test_a_peer_that_talks_before_its_first_status_counts_as_alive():
    """web1 restarts; web2's acks bring comm-up and the whole failback happens before web2's next
    keepalive: web1 must still accept a standby (here: the graceful-stop handover) right after."""
    c = settled(MBB_GROUPS, mbb_groups=[MBB_KEY])
    c.crash("web1")
    c.deliver()
    c.replace("web1", mbb_groups=[MBB_KEY])
    c.alive["web1"] = True
    c.act("web2", lambda m: m.peer_status("web1", "up"))
    c.act("web1", lambda m: m.comm_up())  # no peer_status("web2", ...) on web1's side yet
    c.deliver()
    assert held(c, "web1") == [MBB_KEY]  # the failback happened
    mark = c.mark()
    c.act("web1", lambda m: m.shutdown())
    c.deliver()
    assert ("web2", ("acquire", (MBB_KEY,), "ip")) in c.since(mark)  # handed over make-before-break
    assert not any("not alive" in e.text for e in c["web1"].logs)


def test_a_late_message_from_a_dead_peer_does_not_revive_it():
    c = settled(SPEC_GROUPS)
    c.crash("web2")
    assert not c["web1"].mgr.peer_alive
    c.act(
        "web1", lambda m: m.message("web2", msg("t=resource", "rsc_hold=local", "rtype=full", "isstable=1"))
    )
    assert not c["web1"].mgr.peer_alive
