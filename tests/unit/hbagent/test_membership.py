"""hbagent.membership with a fake clock and an in-memory network."""

import base64
import json
import pathlib
import random

import pytest

from hbagent import wire
from hbagent.config import AuthKeys, parse_ha_cf
from hbagent.membership import (
    CommUp,
    Delivered,
    LinkStatusChanged,
    Log,
    Membership,
    NodeStatusChanged,
    PartitionHealed,
    PeerRestarted,
    Transmit,
)
from hbagent.wire import Message

KEYS = AuthKeys(3, {3: ("md5", b"mot_de_passe"), 1: ("crc", None), 2: ("sha1", b"mot_de_passe")})
WALL0 = 1_800_000_000.0


def ha_cf(nodes=("web1", "web2"), media="bcast eth0", extra=""):
    return parse_ha_cf(f"keepalive 2\ndeadtime 10\nwarntime 5\n{media}\nnode {' '.join(nodes)}\n{extra}")


class Net:
    """Nodes on shared media; every tick all nodes run and every transmit reaches every other node."""

    def __init__(self, nodes=("web1", "web2"), media="bcast eth0", extra="", t0=100.0):
        self.now = t0
        self.cfg_args = (nodes, media, extra)
        self.nodes: dict[str, Membership] = {}
        self.actions: dict[str, list] = {}
        self.cut: set[tuple[str, str]] = set()  # (sender, link) pairs that no longer get through
        self.down: set[str] = set()

    def wall(self):
        return WALL0 + self.now

    def add(self, name, generation=100, start=True):
        node = Membership(ha_cf(*self.cfg_args), KEYS, name, uuid=bytes([len(self.nodes) + 1]) * 16,
                          generation=generation, wall=self.wall, rng=random.Random(name))  # fmt: skip
        self.nodes[name] = node
        self.actions[name] = []
        self.down.discard(name)
        if start:
            self._route(name, node.start(self.now))
        return node

    def _route(self, sender, actions):
        """Queue what `sender` transmits; deliver in order (a FIFO, like a real wire)."""
        self.actions[sender].extend(actions)
        pending = [(sender, a) for a in actions]
        while pending:
            source, action = pending.pop(0)
            if not isinstance(action, Transmit) or source in self.down:
                continue
            for link in self.nodes[source].link_names:
                if (source, link) in self.cut:
                    continue
                for name, other in self.nodes.items():
                    if name != source and name not in self.down:
                        replies = other.receive(action.data, link, self.now)
                        self.actions[name].extend(replies)
                        pending.extend((name, r) for r in replies)

    def run(self, seconds, step=0.05):
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now = round(self.now + step, 6)
            for name, node in list(self.nodes.items()):
                if name not in self.down:
                    self._route(name, node.tick(self.now))

    def take(self, name):
        actions, self.actions[name] = self.actions[name], []
        return actions


def logs(actions):
    return [a.text for a in actions if isinstance(a, Log)]


def sent(actions, mtype=None):
    return [a.msg for a in actions if isinstance(a, Transmit) and (mtype is None or a.msg["t"] == mtype)]


def of_type(actions, cls):
    return [a for a in actions if isinstance(a, cls)]


# ---------------------------------------------------------------------------------------------
# start-up, join, comm-up


def test_start_sequence_and_dt_boost():
    net = Net()
    node = net.add("web1")
    start = net.take("web1")
    statuses = sent(start, "status")
    assert [(m["st"], m["dt"], m["seq"]) for m in statuses] == [("init", "2ee0", "1"), ("up", "2ee0", "2"),
                                                                 ("up", "2ee0", "3")]  # fmt: skip
    first = statuses[0]
    assert [n for _t, n, _v in first] == ["t", "st", "dt", "protocol", "src", "srcuuid", "seq", "hg", "ts", "ld",
                                          "ttl", "auth"]  # fmt: skip
    assert (first["src"], first["hg"], first["ttl"], first["ts"]) == (
        "web1",
        "64",
        "3",
        format(int(WALL0 + 100), "x"),
    )
    assert node.node_status("web1") == "up" and not node.comm_up
    net.run(4.0)
    assert [m["dt"] for m in sent(net.take("web1"), "status")] == ["2ee0", "2ee0"]  # keepalive 2 s
    net.run(4.0)
    assert [m["dt"] for m in sent(net.take("web1"), "status")] == ["2710", "2710"]  # back to deadtime


def test_two_nodes_join_and_see_each_other_active():
    net = Net()
    web1 = net.add("web1")
    net.run(1.0)
    web2 = net.add("web2")
    net.run(3.0)
    assert web1.node_status("web2") == "active" and web2.node_status("web1") == "active"
    assert web1.node_status("web1") == "active" and web1.comm_up and web2.comm_up
    assert web1.link_status("web2", "eth0") == "up" and web1.link_status("web1", "eth0") == "up"
    actions1 = net.take("web1")
    log1 = logs(actions1)
    assert "Link web2:eth0 up." in log1
    assert log1.index("Status update for node web2: status up") < log1.index(
        "Status update for node web2: status active"
    )
    actions2 = net.take("web2")
    assert len(of_type(actions2, CommUp)) == 1
    # web1 went active as soon as it heard web2's first status: web2 sees it active at once
    assert of_type(actions2, NodeStatusChanged) == [NodeStatusChanged("web1", "init", "active")]
    assert of_type(actions1, NodeStatusChanged) == [
        NodeStatusChanged("web2", "init", "up"),
        NodeStatusChanged("web2", "up", "active"),
    ]
    assert "Comm_now_up(): updating status to active" in logs(actions2)


def test_lone_node_waits_for_initdead_then_goes_active():
    net = Net()
    web1 = net.add("web1")
    net.run(19.0)
    assert web1.node_status("web2") == "init" and not web1.comm_up
    net.run(1.5)  # initdead 20 s (deadtime 10 s)
    actions = net.take("web1")
    assert web1.node_status("web2") == "dead" and web1.comm_up and web1.status == "active"
    assert "node web2: is dead" in logs(actions)
    assert of_type(actions, CommUp) and NodeStatusChanged("web2", "init", "dead") in actions
    assert sent(actions, "status")[-1]["st"] == "active"


def test_single_node_cluster_is_active_at_once():
    net = Net(nodes=("solo",))
    node = net.add("solo")
    assert node.comm_up and of_type(net.take("solo"), CommUp)


def test_three_nodes_comm_up_waits_for_everyone():
    net = Net(nodes=("web1", "web2", "web3"))
    web1 = net.add("web1")
    net.add("web2")
    net.run(3.0)
    assert not web1.comm_up and web1.node_status("web2") == "up"
    net.add("web3")
    net.run(3.0)
    assert all(n.comm_up for n in net.nodes.values())
    assert {web1.node_status(n) for n in ("web1", "web2", "web3")} == {"active"}
    assert sent(net.take("web1"), "status")[0]["ttl"] == "4"  # hopfudge 1 + 3 nodes


def test_local_node_must_be_in_ha_cf():
    with pytest.raises(ValueError, match=r"Current node \[web9\] not in configuration"):
        Membership(ha_cf(), KEYS, "web9", b"\0" * 16, 1)


# ---------------------------------------------------------------------------------------------
# death, late heartbeats, links


def joined(**kwargs):
    net = Net(**kwargs)
    net.add("web1")
    net.add("web2")
    net.run(6.0)  # past the start-up dt boost
    net.take("web1")
    net.take("web2")
    return net


def test_keepalive_loss_late_warning_then_dead():
    net = joined()
    web1 = net.nodes["web1"]
    net.down.add("web2")  # SIGKILL: silence
    net.run(5.5)
    early = net.take("web1")
    late = [t for t in logs(early) if t.startswith("Late heartbeat: Node web2: interval ")]
    assert len(late) == 1 and int(late[0].split()[-2]) > 5000
    assert web1.node_status("web2") == "active"
    net.run(5.5)
    actions = net.take("web1")
    assert "node web2: is dead" in logs(actions) and "Link web2:eth0 dead." in logs(actions)
    assert NodeStatusChanged("web2", "active", "dead") in actions
    assert LinkStatusChanged("web2", "eth0", "dead") in actions
    assert web1.node_status("web2") == "dead" and web1.link_status("web2", "eth0") == "dead"
    net.run(30)
    assert "node web2: is dead" not in logs(net.take("web1"))  # declared once


def test_late_status_is_reported_with_its_interval_when_it_arrives():
    net = joined()
    web1, web2 = net.nodes["web1"], net.nodes["web2"]
    net.down.add("web2")
    net.run(0.1)
    net.take("web1")
    net.now += 7.0  # no tick in between: the next packet itself is late
    net.down.discard("web2")
    net._route("web2", web2.send_status(net.now))
    assert any(t.startswith("Late heartbeat: Node web2: interval 7") for t in logs(net.take("web1")))
    assert web1.node_status("web2") == "active"


def test_peer_dt_is_honoured():
    net = joined()
    web1, web2 = net.nodes["web1"], net.nodes["web2"]
    web2.cfg.deadtime_ms = 20000  # web2 advertises dt=4e20
    net.run(3.0)
    assert web1.peers["web2"].dead_ms == 20000
    net.down.add("web2")
    net.run(15.0)
    assert web1.node_status("web2") == "active"
    net.run(6.0)
    assert web1.node_status("web2") == "dead"


def test_link_loss_on_one_of_two_media():
    net = joined(media="bcast eth0 eth1")
    web1 = net.nodes["web1"]
    net.cut.add(("web2", "eth1"))
    net.run(11.0)
    actions = net.take("web1")
    assert "Link web2:eth1 dead." in logs(actions) and "Link web2:eth0 dead." not in logs(actions)
    assert web1.node_status("web2") == "active"
    assert (web1.link_status("web2", "eth0"), web1.link_status("web2", "eth1")) == ("up", "dead")
    net.cut.clear()
    net.run(2.5)
    assert "Link web2:eth1 up." in logs(net.take("web1")) and web1.link_status("web2", "eth1") == "up"


def test_restart_detection():
    net = joined()
    web1 = net.nodes["web1"]
    net.down.add("web2")
    net.run(12.0)
    assert web1.node_status("web2") == "dead"
    net.take("web1")
    net.add("web2", generation=101)
    net.run(3.0)
    actions = net.take("web1")
    assert "Heartbeat restart on node web2" in logs(actions) and PeerRestarted("web2") in actions
    assert web1.node_status("web2") == "active" and web1.peers["web2"].generation == 101
    assert not any("lost packet" in t for t in logs(actions))  # seq restarted at 1, tracking reset


def test_restart_without_death_is_detected_too():
    net = joined()
    net.add("web2", generation=150)
    net.run(1.0)
    assert "Heartbeat restart on node web2" in logs(net.take("web1"))


def test_returning_after_partition():
    net = joined()
    web1 = net.nodes["web1"]
    net.cut.add(("web2", "eth0"))
    net.run(12.0)
    assert web1.node_status("web2") == "dead"
    net.take("web1")
    net.cut.clear()
    net.run(2.5)
    actions = net.take("web1")
    assert "Cluster node web2 returning after partition." in logs(actions)
    assert web1.node_status("web2") == "active"
    # the resource layer is told, once, before the status change that makes the peer alive again
    assert of_type(actions, PartitionHealed) == [PartitionHealed("web2")]
    kinds = [type(a) for a in actions if isinstance(a, (PartitionHealed, NodeStatusChanged))]
    assert kinds == [PartitionHealed, NodeStatusChanged]


def test_a_restart_during_the_partition_is_a_restart_not_a_heal():
    net = joined()
    net.cut.add(("web2", "eth0"))
    net.run(12.0)
    net.cut.clear()
    net.add("web2", generation=101)
    net.run(3.0)
    actions = net.take("web1")
    assert of_type(actions, PeerRestarted) == [PeerRestarted("web2")]
    assert not of_type(actions, PartitionHealed)


# ---------------------------------------------------------------------------------------------
# sequence tracking, replay, acks, retransmission


def pair():
    net = joined()
    return net, net.nodes["web1"], net.nodes["web2"]


def encoded(node, msg, now):
    return next(a.data for a in node.send(msg, now) if isinstance(a, Transmit))


def test_replay_of_an_older_generation_is_dropped():
    net, web1, web2 = pair()
    old = Membership(ha_cf(), KEYS, "web2", web2.uuid, 99, wall=net.wall)
    data = encoded(old, Message.of(t="resource", rsc_hold="none"), net.now)
    actions = web1.receive(data, "eth0", net.now)
    assert logs(actions) == ["should_drop_message: attempted replay attack [web2]? [gen = 99, curgen = 100]"]
    assert not of_type(actions, Delivered)


def test_duplicates_and_replayed_packets_are_not_delivered_twice():
    net, web1, web2 = pair()
    data = encoded(web2, Message.of(t="resource", rsc_hold="local"), net.now)
    first = web1.receive(data, "eth0", net.now)
    assert [a.msg["rsc_hold"] for a in of_type(first, Delivered)] == ["local"]
    assert of_type(web1.receive(data, "eth0", net.now + 1), Delivered) == []
    later = encoded(web2, Message.of(t="starting"), net.now)
    assert of_type(web1.receive(later, "eth0", net.now), Delivered)
    assert web1.receive(data, "eth0", net.now + 2) == []  # older duplicate


def test_out_of_order_late_packets_are_accepted():
    net, web1, web2 = pair()
    a, b, c = (encoded(web2, Message.of(t="resource", n=str(i)), net.now) for i in range(3))
    seq_a = int(wire.decode(a)["seq"], 16)
    web1.receive(a, "eth0", net.now)
    gap = web1.receive(c, "eth0", net.now)
    assert f"1 lost packet(s) for [web2] [{seq_a}:{seq_a + 2}]" in logs(gap)
    assert [d.msg["n"] for d in of_type(gap, Delivered)] == ["2"]
    late = web1.receive(b, "eth0", net.now)
    assert [d.msg["n"] for d in of_type(late, Delivered)] == ["1"]
    assert "No pkts missing from web2!" in logs(late)
    assert of_type(web1.receive(b, "eth0", net.now), Delivered) == []  # once only


def test_huge_gap_resets_tracking():
    net, web1, web2 = pair()
    web2.seq += 300
    actions = web1.receive(encoded(web2, Message.of(t="starting"), net.now), "eth0", net.now)
    assert "lost a lot of packets!" in logs(actions) and of_type(actions, Delivered)
    assert web1.peers["web2"].missing == {}


def test_rexmit_request_answer_and_nak():
    net, web1, web2 = pair()
    lost = encoded(web2, Message.of(t="resource", rsc_hold="all"), net.now)
    lost_seq = int(wire.decode(lost)["seq"], 16)
    net.run(2.5)  # web2's next status shows web1 the gap; web1 asks, web2 re-sends
    actions1, actions2 = net.take("web1"), net.take("web2")
    assert f"1 lost packet(s) for [web2] [{lost_seq - 1}:{lost_seq + 1}]" in logs(actions1)
    requests = sent(actions1, "NS_rexmit")
    assert requests and (requests[0]["dest"], requests[0]["firstseq"], requests[0]["lastseq"]) == (
        "web2", str(lost_seq), str(lost_seq)  # decimal on this message type
    )  # fmt: skip
    assert "seq" not in requests[0] and "ld" not in requests[0]
    # web2 answered with the very same bytes, web1 took it as a late packet and stopped asking
    assert any(isinstance(a, Transmit) and a.data == lost for a in actions2)
    assert web1.peers["web2"].missing == {}
    assert any(isinstance(a, Delivered) and a.msg["rsc_hold"] == "all" for a in actions1)
    assert "No pkts missing from web2!" in logs(actions1)
    # a second request for the same packet within 240 ms is not answered again
    request = Message.of(t="NS_rexmit", dest="web2", firstseq=str(lost_seq), lastseq=str(lost_seq))
    first = web2.receive(encoded(web1, request, net.now), "eth0", net.now + 1.0)
    assert [a.data for a in first if isinstance(a, Transmit)] == [lost]
    assert sent(web2.receive(encoded(web1, request, net.now), "eth0", net.now + 1.1)) == []
    again = web2.receive(encoded(web1, request, net.now), "eth0", net.now + 1.5)
    assert [a.data for a in again if isinstance(a, Transmit)] == [lost]


def test_rexmit_of_a_forgotten_packet_is_naked_and_the_requester_gives_up():
    net, web1, web2 = pair()
    for _ in range(600):  # push the first messages out of the 500-message history
        web2.send(Message.of(t="filler"), net.now)
    request = Message.of(t="NS_rexmit", dest="web2", firstseq="1", lastseq="1")
    answer = web2.receive(encoded(web1, request, net.now), "eth0", net.now)
    naks = sent(answer, "NS_nak_rexmit")
    assert [(m["firstseq"], m["dest"], m["info"]) for m in naks] == [("1", "web1", "seqno too low")]
    above = Message.of(t="NS_rexmit", dest="web2", firstseq="99999", lastseq="99999")
    ignored = web2.receive(encoded(web1, above, net.now), "eth0", net.now)
    assert sent(ignored) == [] and "above our highest" in logs(ignored)[0]
    not_for_me = Message.of(t="NS_rexmit", dest="web3", firstseq="1", lastseq="1")
    assert web2.receive(encoded(web1, not_for_me, net.now), "eth0", net.now) == []
    # the requester side: a NAK ends the requests for that seq
    web1.peers["web2"].missing[5] = net.now
    nak = web1.receive(encoded(web2, Message.of(t="NS_nak_rexmit", firstseq="5", dest="web1",
                                               info="seqno too low"), net.now), "eth0", net.now)  # fmt: skip
    assert "Irretrievably lost packet: node web2 seq 5" in logs(nak) and 5 not in web1.peers["web2"].missing


@pytest.mark.parametrize(("first", "last"), [("0", "1"), ("5", "4"), ("x", "1")])
def test_invalid_rexmit_requests(first, last):
    net, web1, web2 = pair()
    request = Message.of(t="NS_rexmit", dest="web2", firstseq=first, lastseq=last)
    assert logs(web2.receive(encoded(web1, request, net.now), "eth0", net.now)) == ["Invalid rexmit seqnos"]


def test_acks_follow_the_random_trigger():
    net, web1, web2 = pair()
    trigger = web1.peers["web2"].ack_trigger
    acks = []
    for _ in range(25):
        data = encoded(web2, Message.of(t="filler"), net.now)
        seq = int(wire.decode(data)["seq"], 16)
        for msg in sent(web1.receive(data, "eth0", net.now), "NS_ackmsg"):
            acks.append((seq, msg["dest"], msg["ackseq"]))
    assert acks and all(seq % 10 == trigger and dest == "web2" and ackseq == format(seq, "x")
                        for seq, dest, ackseq in acks)  # fmt: skip
    assert len(acks) in (2, 3)
    ack = sent(web1.receive(encoded(web2, Message.of(t="x"), net.now), "eth0", net.now), "NS_ackmsg")
    assert all("seq" not in m for m in ack)


def test_no_ack_while_packets_are_missing():
    net, web1, web2 = pair()
    trigger = web1.peers["web2"].ack_trigger
    while (web2.seq + 2) % 10 != trigger:
        web1.receive(encoded(web2, Message.of(t="filler"), net.now), "eth0", net.now)
    web2.seq += 1  # one lost
    assert sent(web1.receive(encoded(web2, Message.of(t="x"), net.now), "eth0", net.now), "NS_ackmsg") == []


def test_acks_addressed_to_us_are_recorded():
    net, web1, web2 = pair()
    web1.receive(encoded(web2, Message.of(t="NS_ackmsg", dest="web1", ackseq="1f"), net.now), "eth0", net.now)
    assert web1.peers["web2"].acked_seq == 0x1F


# ---------------------------------------------------------------------------------------------
# reqnodes / repnodes, client status, delivery, bad input


def test_reqnodes_is_answered_with_all_nodes():
    net = Net(nodes=("web1", "web2", "web3"))
    web1 = net.add("web1")
    web2 = net.add("web2")
    actions = web1.receive(encoded(web2, Message.of(t="reqnodes", dest="web1"), net.now), "eth0", net.now)
    (reply,) = sent(actions, "repnodes")
    assert [n for _t, n, _v in reply][:4] == ["dest", "t", "nodelist", "delnodelist"]
    assert (reply["dest"], reply["nodelist"], reply["delnodelist"]) == ("web2", "web1 web2 web3 ", " ")
    assert "seq" in reply


def test_query_cstatus_is_answered_offline():
    net, web1, web2 = pair()
    query = Message.of(t="query-cstatus", dest="web1", cn="ipfail", from_id="18963")
    (reply,) = sent(web1.receive(encoded(web2, query, net.now), "eth0", net.now), "respond-cstatus")
    assert [(n, v) for _t, n, v in reply][:6] == [("t", "respond-cstatus"), ("dest", "web2"), ("result", "OK"),
                                                  ("cn", "ipfail"), ("to_id", "18963"), ("cs", "offline")]  # fmt: skip


def test_delivery_respects_dest_and_handlers():
    net, web1, web2 = pair()
    for_us = web1.receive(encoded(web2, Message.of(t="ask_resources", dest="web1"), net.now), "eth0", net.now)
    assert [a.msg["t"] for a in of_type(for_us, Delivered)] == ["ask_resources"]
    for_other = web1.receive(
        encoded(web2, Message.of(t="ip-request-resp", dest="web2"), net.now), "eth0", net.now
    )
    assert of_type(for_other, Delivered) == []
    seen = []
    web1.handlers["hb_takeover"] = lambda msg, src, now: (
        seen.append((msg["rsc_hold"], src)) or [Message.of(t="ack-takeover")]
    )
    claimed = web1.receive(
        encoded(web2, Message.of(t="hb_takeover", rsc_hold="all"), net.now), "eth0", net.now
    )
    assert seen == [("all", "web2")] and of_type(claimed, Delivered) == []
    assert [m["t"] for m in sent(claimed)] == ["ack-takeover"]


def test_sent_messages_are_sequenced_and_authenticated():
    net, web1, _web2 = pair()
    (tx,) = web1.send(Message.of(t="starting"), net.now)
    decoded = wire.decode(tx.data, KEYS)
    assert decoded["seq"] == format(web1.seq, "x") and decoded["hg"] == "64"
    assert decoded.fields[-1][1] == "auth"
    assert web1.history[-1].data == tx.data


def test_bad_input_is_dropped_with_a_reason():
    net, web1, web2 = pair()
    good = encoded(web2, Message.of(t="x"), net.now)
    assert logs(web1.receive(good.replace(b"(0)t=x", b"(0)t=y"), "eth0", net.now))[0].startswith(
        "bad packet on eth0: authtoken does not match"
    )
    stranger = Membership(ha_cf(nodes=("web1", "web2", "evil")), KEYS, "evil", b"e" * 16, 1, wall=net.wall)
    assert logs(web1.receive(encoded(stranger, Message.of(t="x"), net.now), "eth0", net.now)) == [
        "process_status_message: bad node [evil] in message"
    ]
    assert web1.receive(encoded(web1, Message.of(t="x"), net.now), "eth0", net.now) == []  # our own
    no_ts = Message.of(t="x", src="web2", seq="1")
    assert web1.receive_message(no_ts, "eth0", net.now) == []
    assert logs(web1.receive_message(Message.of(src="web2", ts="1"), "eth0", net.now)) == [
        "process_clustermsg: missing from/ts/type"
    ]
    no_seq = Message.of(t="x", src="web2", ts="1", hg="64")
    assert logs(web1.receive_message(no_seq, "eth0", net.now)) == ["should_drop_message: bad sequence number"]


def test_log_badpack_off_silences_bad_packets():
    net = Net(extra="log_badpack off")
    quiet = net.add("web1")
    assert quiet.receive(b"garbage", "eth0", net.now) == []
    loud = Membership(ha_cf(), KEYS, "web2", b"\2" * 16, 1)
    assert logs(loud.receive(b"garbage", "eth0", net.now)) == [
        "bad packet on eth0: unknown message format (neither ### nor >>>)"
    ]


def test_uuid_change_is_logged():
    net, web1, web2 = pair()
    other = Membership(ha_cf(), KEYS, "web2", b"\x42" * 16, 100, wall=net.wall)
    other.seq = web2.seq
    actions = web1.receive(encoded(other, Message.of(t="x"), net.now), "eth0", net.now)
    assert f"node web2 changed its uuid to {'42' * 16}" in logs(actions)


def test_snapshot():
    net, web1, _web2 = pair()
    snap = web1.snapshot(net.now)
    assert snap["node"] == "web1" and snap["status"] == "active" and snap["comm_up"] is True
    assert [(n["name"], n["status"], n["links"]) for n in snap["nodes"]] == [
        ("web1", "active", {"eth0": "up"}),
        ("web2", "active", {"eth0": "up"}),
    ]
    assert snap["nodes"][1]["deadtime_ms"] == 10000 and snap["nodes"][1]["last_status_ms_ago"] < 2100


# ---------------------------------------------------------------------------------------------
# real 3.0.6 packets


def test_real_heartbeat_packets_drive_the_state_machine():
    path = pathlib.Path(__file__).resolve().parents[2] / "data/heartbeat-test-vectors.json"
    vectors = json.loads(path.read_text())["vectors"]
    from_web1 = [base64.b64decode(v["packet_b64"]) for v in vectors if v["type"] == "status"]
    from_web1 = [p for p in from_web1 if wire.decode(p)["src"] == "web1"]
    assert from_web1
    packet = from_web1[0]
    msg = wire.decode(packet)
    web2 = Membership(ha_cf(), KEYS, "web2", b"\x07" * 16, 1, wall=lambda: int(msg["ts"], 16))
    web2.start(0.0)
    actions = web2.receive(packet, "eth0", 0.1)
    assert NodeStatusChanged("web1", "init", msg["st"]) in actions
    assert web2.peers["web1"].uuid == msg["srcuuid"] and web2.peers["web1"].generation == int(msg["hg"], 16)
    assert web2.peers["web1"].dead_ms == int(msg["dt"], 16)
    assert web2.comm_up
