"""pingnodes.py (ping node tracking, fake clock) and icmp.py (the packets, no socket)."""

import struct

from hbagent import icmp
from hbagent.config import parse_ha_cf
from hbagent.membership import Log
from hbagent.pingnodes import Echo, PingNodes, PingStatusChanged

HA_CF = "keepalive 500ms\ndeadtime 3\ndeadping 2\nbcast eth0\nnode web1 web2\n"


def tracker(extra="ping 10.0.0.1\nping_group uplink 10.0.0.2 10.0.0.3\n", resolve=lambda host: host):
    return PingNodes(parse_ha_cf(HA_CF + extra), resolve=resolve)


def echoes(actions):
    return [(a.address, a.seq) for a in actions if isinstance(a, Echo)]


def changes(actions):
    return [(a.node, a.old, a.new) for a in actions if isinstance(a, PingStatusChanged)]


def test_one_echo_per_address_every_keepalive():
    pings = tracker()
    assert echoes(pings.start(0.0)) == [("10.0.0.1", 1), ("10.0.0.2", 1), ("10.0.0.3", 1)]
    assert echoes(pings.tick(0.4)) == []
    assert echoes(pings.tick(0.5)) == [("10.0.0.1", 2), ("10.0.0.2", 2), ("10.0.0.3", 2)]
    assert pings.next_wakeup(0.6) == 1.0


def test_a_reply_makes_it_ping_and_silence_for_deadping_makes_it_dead():
    pings = tracker()
    pings.start(0.0)
    assert [n["status"] for n in pings.snapshot()] == ["init", "init"]
    actions = pings.reply("10.0.0.1", 0.01)
    assert changes(actions) == [("10.0.0.1", "init", "ping")]
    assert [a.text for a in actions if isinstance(a, Log)] == ["Link 10.0.0.1:10.0.0.1 up.",
                                                               "Status update for node 10.0.0.1: status ping"]  # fmt: skip
    assert pings.reachable() == 1
    assert changes(pings.tick(2.0)) == []  # the group never answered: dead 2 s after the start
    assert changes(pings.tick(2.02)) == [("10.0.0.1", "ping", "dead"), ("uplink", "init", "dead")]
    assert pings.reachable() == 0
    assert pings.snapshot()[0] == {"name": "10.0.0.1", "type": "ping", "status": "dead",
                                   "links": {"10.0.0.1": "dead"}, "addresses": ["10.0.0.1"], "kind": "ping"}  # fmt: skip


def test_a_ping_group_lives_while_any_member_answers():
    pings = tracker()
    pings.start(0.0)
    pings.reply("10.0.0.3", 0.5)
    assert pings.status("uplink") == "ping"
    pings.reply("10.0.0.2", 2.0)
    pings.tick(3.0)
    assert pings.status("uplink") == "ping"  # 10.0.0.3 went quiet, 10.0.0.2 still answers
    assert pings.status("10.0.0.1") == "dead"


def test_replies_from_other_addresses_are_ignored():
    pings = tracker()
    pings.start(0.0)
    assert pings.reply("10.0.0.9", 0.1) == []
    assert pings.reachable() == 0


def test_an_unresolvable_host_never_answers():
    pings = tracker("ping gw.invalid\n", resolve=lambda host: None)
    assert pings.unresolved() == ["gw.invalid"]
    assert echoes(pings.start(0.0)) == []


def test_without_ping_nodes_nothing_happens():
    pings = tracker("")
    assert not pings.configured and pings.start(0.0) == [] and pings.tick(10.0) == []


# -- packets -----------------------------------------------------------------------------------


def ip_header(payload_len):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 1, 0, 64, 1, 0, bytes(4), bytes(4))


def reply_of(request):
    body = bytearray(request)
    body[0] = icmp.ICMP_ECHO_REPLY
    body[2:4] = b"\0\0"
    body[2:4] = struct.pack("!H", icmp.checksum(bytes(body)))
    return ip_header(len(body)) + bytes(body)


def test_echo_request_checksum_verifies():
    request = icmp.echo_request(0x1234, 7, b"hbagent web1")
    assert request[0] == icmp.ICMP_ECHO_REQUEST and icmp.checksum(request) == 0
    assert icmp.checksum(b"\x45\x00\x00\x1c") == 0xBAE3  # RFC 1071 arithmetic


def test_only_our_replies_are_taken():
    payload = b"hbagent web1"
    request = icmp.echo_request(0x1234, 7, payload)
    assert icmp.parse_echo_reply(reply_of(request), 0x1234, payload) == 7
    assert icmp.parse_echo_reply(reply_of(request), 0x4321, payload) is None  # another pinger
    other = icmp.echo_request(0x1234, 7, b"someone else")
    assert icmp.parse_echo_reply(reply_of(other), 0x1234, payload) is None
    corrupt = bytearray(reply_of(request))
    corrupt[-1] ^= 0xFF
    assert icmp.parse_echo_reply(bytes(corrupt), 0x1234, payload) is None
    assert icmp.parse_echo_reply(b"\x45short", 0x1234, payload) is None
    assert icmp.parse_echo_reply(ip_header(len(request)) + request, 0x1234, payload) is None  # a request
