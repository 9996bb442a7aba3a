"""heal.py: who keeps a resource set after a healed partition (pure, no clock)."""

import pytest

from hbagent.heal import HEAL_TYPE, Claim, HealArbiter, Reannounce, Relinquish, decide
from hbagent.membership import Log
from hbagent.rscmgr import ALL, FOREIGN, LOCAL, NONE, Send


def claim(node, held, incumbent=(), ping=None):
    return Claim(node, frozenset(held), frozenset(incumbent), ping)


@pytest.mark.parametrize(
    ("a", "b", "mode", "keepers"),
    [
        # auto_failback on: every set held by both stays with its preferred node
        (
            claim("web1", {"web1", "web2"}),
            claim("web2", {"web1", "web2"}),
            "on",
            {"web1": "web1", "web2": "web2"},
        ),
        # a set held by one node only is not decided: nothing to release
        (claim("web1", {"web1"}), claim("web2", {"web2"}), "on", {}),
        (claim("web1", {"web1"}), claim("web2", {"web1"}), "legacy", {"web1": "web1"}),
        # auto_failback off: the node that held it before the partition keeps it (no needless move)
        (claim("web1", {"web1"}), claim("web2", {"web1"}, {"web1"}), "off", {"web1": "web2"}),
        (claim("web1", {"web1"}, {"web1"}), claim("web2", {"web1"}), "off", {"web1": "web1"}),
        # ...and the preferred node when both or neither were holding it before
        (claim("web1", {"web2"}), claim("web2", {"web2"}), "off", {"web2": "web2"}),
        # ping nodes first: the node that reaches more keeps everything held by both
        (
            claim("web1", {"web1", "web2"}, ping=0),
            claim("web2", {"web1", "web2"}, ping=1),
            "on",
            {"web1": "web2", "web2": "web2"},
        ),
        (claim("web1", {"web1"}, ping=1), claim("web2", {"web1"}, ping=1), "on", {"web1": "web1"}),
    ],
)
def test_decide_is_the_same_on_both_nodes(a, b, mode, keepers):
    assert decide(a, b, mode) == keepers
    assert decide(b, a, mode) == keepers


def exchange(web1, web2, held1, held2, ping1=None, ping2=None):
    """web1 detects the heal first; returns both nodes' actions."""
    out1 = web1.healed(held1, ping1)
    (send1,) = [a for a in out1 if isinstance(a, Send)]
    out2 = web2.claim_received(dict(send1.fields), held2, ping2)
    (send2,) = [a for a in out2 if isinstance(a, Send)]
    out1 += web1.claim_received(dict(send2.fields), held1, ping1)
    return out1, out2


def relinquished(actions):
    return [a for a in actions if isinstance(a, Relinquish)]


def test_both_took_everything_each_keeps_its_own_and_gives_the_other_back():
    web1, web2 = HealArbiter("web1", "web2", "on"), HealArbiter("web2", "web1", "on")
    web1.peer_lost(LOCAL)
    web2.peer_lost(LOCAL)
    out1, out2 = exchange(web1, web2, ALL, ALL)
    assert relinquished(out1) == [Relinquish(FOREIGN, "partition heal (web2 keeps them)", FOREIGN)]
    assert relinquished(out2) == [Relinquish(FOREIGN, "partition heal (web1 keeps them)", FOREIGN)]
    assert Reannounce(LOCAL) in out1 and Reannounce(LOCAL) in out2
    assert "web1's resources stay on web1; web2's resources stay on web2" in out1[-3].text


def test_the_claim_names_what_was_held_before_the_partition():
    web2 = HealArbiter("web2", "web1", "off")
    web2.peer_lost(NONE)  # web2 held nothing when it lost web1, then took web1's set
    (log, send) = web2.healed(FOREIGN, None)
    assert isinstance(log, Log) and log.level == "warning"
    assert dict(send.fields) == {"t": HEAL_TYPE, "dest": "web1", "rsc_hold": "foreign", "incumbent": "none"}


def test_with_auto_failback_off_the_incumbent_keeps_it_and_the_taker_releases():
    web1, web2 = HealArbiter("web1", "web2", "off"), HealArbiter("web2", "web1", "off")
    web1.peer_lost(LOCAL)
    web2.peer_lost(NONE)
    out1, out2 = exchange(web1, web2, LOCAL, FOREIGN)
    assert relinquished(out1)[0].rset == NONE
    assert relinquished(out2)[0].rset == FOREIGN


def test_a_node_that_never_saw_the_peer_die_answers_and_decides_the_same():
    """A one-way cut: only web2 declared web1 dead and took its set; web1 held its own throughout."""
    web1, web2 = HealArbiter("web1", "web2", "off"), HealArbiter("web2", "web1", "off")
    web2.peer_lost(NONE)
    out2 = web2.healed(FOREIGN, None)
    answer = web1.claim_received(dict(out2[-1].fields), LOCAL, None)
    assert dict(answer[0].fields)["incumbent"] == "local"  # held all along
    assert relinquished(answer)[0].rset == NONE
    settled = web2.claim_received(dict(answer[0].fields), FOREIGN, None)
    assert relinquished(settled)[0].rset == FOREIGN


def test_one_heal_round_per_partition():
    web1, web2 = HealArbiter("web1", "web2", "on"), HealArbiter("web2", "web1", "on")
    web1.peer_lost(ALL)
    web2.peer_lost(ALL)
    exchange(web1, web2, ALL, ALL)
    assert web1.healed(LOCAL, None) == [] and web2.healed(LOCAL, None) == []  # late detections


def test_a_3_0_6_peer_never_answers_and_nothing_is_released():
    """3.0.6 gives everything up itself two seconds after the heal, then restarts."""
    web1 = HealArbiter("web1", "web2", "on")
    web1.peer_lost(LOCAL)
    out = web1.healed(ALL, None)
    assert not relinquished(out)
    web1.peer_restarted()
    assert web1.healed(ALL, None) == []


def test_the_keeper_announces_again_when_the_loser_reports_its_release():
    web1 = HealArbiter("web1", "web2", "on")
    web1.peer_lost(ALL)
    web1.healed(ALL, None)
    web1.claim_received({"t": HEAL_TYPE, "rsc_hold": "all", "incumbent": "none"}, ALL, None)
    assert web1.peer_reported({"t": "resource", "rsc_hold": "local", "rtype": "full"}) == [Reannounce(LOCAL)]
    assert web1.peer_reported({"t": "resource", "rsc_hold": "local", "rtype": "full"}) == []


def test_a_claim_without_a_valid_holding_is_refused():
    web1 = HealArbiter("web1", "web2", "on")
    (log,) = web1.claim_received({"t": HEAL_TYPE, "rsc_hold": "everything"}, ALL, None)
    assert log.level == "error" and "without a valid rsc_hold" in log.text
