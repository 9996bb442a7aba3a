"""uplink.py: ipfail's rule between two nodes (fake clock, ipfail's wire messages)."""

from hbagent.rscmgr import ALL, LOCAL, NONE, Send
from hbagent.uplink import GiveUp, Uplink

KEEPALIVE = 0.5


def node(me="web1", peer="web2", ping_nodes=1, mode="on"):
    return Uplink(me, peer, ping_nodes, KEEPALIVE, mode)


def sent(actions):
    return [dict(a.fields) for a in actions if isinstance(a, Send)]


def test_counts_are_told_when_the_peer_appears_and_when_they_change():
    web1 = node()
    assert web1.reachable(1, 0.0) == []  # nobody to tell yet
    assert sent(web1.peer_up(1.0)) == [{"t": "num_ping_nodes", "dest": "web2", "num_ping": "1"}]
    assert web1.reachable(1, 1.5) == []  # unchanged
    assert sent(web1.reachable(0, 2.0)) == [{"t": "num_ping_nodes", "dest": "web2", "num_ping": "0"}]


def test_the_node_that_reaches_fewer_gives_everything_after_one_keepalive():
    web1 = node()
    web1.peer_up(0.0)
    web1.reachable(1, 0.0)
    web1.message("num_ping_nodes", {"num_ping": "1"}, 0.1)
    web1.reachable(0, 5.0)  # uplink lost
    assert web1.tick(5.0 + KEEPALIVE / 2, LOCAL) == []  # settling: the peer may lose it too
    (give,) = web1.tick(5.0 + KEEPALIVE, LOCAL)
    assert give == GiveUp("all", "this node reaches 0 of 1 ping nodes, web2 reaches 1")
    assert web1.tick(5.0 + KEEPALIVE + 1.0, LOCAL) == [give]  # until the standby is done
    assert web1.tick(5.0 + KEEPALIVE + 2.0, NONE) == []


def test_a_ping_node_lost_by_both_moves_nothing():
    web1 = node()
    web1.peer_up(0.0)
    web1.reachable(1, 0.0)
    web1.message("num_ping_nodes", {"num_ping": "1"}, 0.0)
    web1.reachable(0, 5.0)
    web1.message("num_ping_nodes", {"num_ping": "0"}, 5.3)  # within the settle time
    assert web1.tick(10.0, ALL) == []


def test_balanced_again_the_holder_gives_the_peer_its_groups_back_with_auto_failback_on():
    web2 = node("web2", "web1")
    web2.peer_up(0.0)
    web2.reachable(1, 0.0)
    web2.message("num_ping_nodes", {"num_ping": "0"}, 1.0)  # web1 lost its uplink
    assert web2.tick(5.0, ALL) == []  # we reach more: nothing to give
    web2.message("num_ping_nodes", {"num_ping": "1"}, 6.0)  # back
    (give,) = web2.tick(6.0 + KEEPALIVE, ALL)
    assert give.which == "foreign" and "balanced again" in give.why
    assert web2.tick(8.0, LOCAL) == []  # given back: done
    assert web2.tick(20.0, ALL) == []  # one give-back per recovery


def test_a_short_imbalance_gives_nothing_back():
    web2 = node("web2", "web1")
    web2.peer_up(0.0)
    web2.reachable(1, 0.0)
    web2.message("num_ping_nodes", {"num_ping": "0"}, 1.0)
    web2.message("num_ping_nodes", {"num_ping": "1"}, 1.0 + KEEPALIVE / 2)  # web1 never gave anything up
    assert web2.tick(10.0, ALL) == []


def test_no_give_back_with_auto_failback_off():
    web2 = node("web2", "web1", mode="off")
    web2.peer_up(0.0)
    web2.reachable(1, 0.0)
    web2.message("num_ping_nodes", {"num_ping": "0"}, 1.0)
    web2.message("num_ping_nodes", {"num_ping": "1"}, 6.0)
    assert web2.tick(10.0, ALL) == []


def test_answers_as_ipfail_does():
    web1 = node()
    web1.peer_up(0.0)
    web1.reachable(1, 0.0)
    assert sent(web1.message("num_ping_nodes", {"num_ping": "0"}, 1.0)) == [
        {"t": "you_are_dead", "dest": "web2"}
    ]
    assert sent(web1.message("num_ping_nodes", {"num_ping": "1"}, 2.0)) == [
        {"t": "abort_giveup", "dest": "web2"}
    ]


def test_you_are_dead_from_a_3_0_6_ipfail_makes_this_node_give_up():
    web1 = node()
    web1.peer_up(0.0)
    web1.reachable(1, 0.0)
    web1.message("you_are_dead", {}, 1.0)
    (give,) = web1.tick(1.0 + KEEPALIVE, ALL)
    assert give.which == "all"


def test_a_blind_node_does_not_take_over_from_a_peer_that_reached_ping_nodes():
    web2 = node("web2", "web1")
    web2.peer_up(0.0)
    web2.reachable(1, 0.0)
    web2.message("num_ping_nodes", {"num_ping": "1"}, 0.0)
    web2.peer_down()
    assert web2.takeover_veto() is None  # it still reaches the ping node: web1 is the one cut off
    web2.reachable(0, 3.0)
    assert "reaches none of its 1 ping nodes while web1 reached 1" in web2.takeover_veto()
    web2.reachable(1, 9.0)
    assert web2.takeover_veto() is None


def test_two_blind_nodes_fall_back_to_the_old_rule():
    web2 = node("web2", "web1")
    web2.peer_up(0.0)
    web2.message("num_ping_nodes", {"num_ping": "0"}, 0.0)  # the ping node itself is down
    web2.peer_down()
    assert web2.takeover_veto() is None


def test_never_fail_back_to_a_node_that_reaches_fewer():
    web2 = node("web2", "web1")
    web2.peer_up(0.0)
    web2.reachable(1, 0.0)
    web2.message("num_ping_nodes", {"num_ping": "0"}, 0.0)
    assert web2.failback_veto() == "web1 reaches 0 ping nodes, this node 1"
    web2.message("num_ping_nodes", {"num_ping": "1"}, 1.0)
    assert web2.failback_veto() is None


def test_without_ping_nodes_the_rule_is_off():
    web1 = node(ping_nodes=0)
    assert web1.peer_up(0.0) == [] and web1.reachable(0, 0.0) == []
    assert web1.takeover_veto() is None and web1.failback_veto() is None and web1.count() is None
    assert web1.message("num_ping_nodes", {"num_ping": "3"}, 0.0) == []


def test_a_count_that_is_not_a_number_is_refused():
    web1 = node()
    web1.peer_up(0.0)
    (log,) = web1.message("num_ping_nodes", {"num_ping": "-1"}, 0.0)
    assert log.level == "error" and web1.theirs is None
