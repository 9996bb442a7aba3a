"""Every input of issue 8 that crashed, flooded or fooled the agent, replayed as a plain test.

The inputs are the regression corpus of the fuzzer (tests/fuzz/corpus/*.json, written by
tests/fuzz/make_corpus.py); each entry says what it did before. Here each one must be refused the
expected way (WireError, ConfigErrors naming the line, BadRequest) or handled without an exception.
"""

import base64
import contextlib
import json
import pathlib
import random

import pytest

from hbagent import config as hc
from hbagent import control, membership, ratelimit, seqtrack, wire
from hbagent.membership import Log, Membership, Transmit
from hbagent.wire import Message, WireError

CORPUS = pathlib.Path(__file__).resolve().parents[2] / "fuzz" / "corpus"
KEYS = hc.AuthKeys(3, {3: ("md5", b"mot_de_passe"), 2: ("sha1", b"mot_de_passe")})


def corpus(name):
    entries = json.loads((CORPUS / f"{name}.json").read_text())["entries"]
    return [pytest.param(e, base64.b64decode(e["b64"]), id=e["name"]) for e in entries]


def ha_cf():
    return hc.parse_ha_cf("keepalive 1\ndeadtime 5\nwarntime 2\ninitdead 10\nbcast eth0\nnode web1 web2\n")


class Clock:
    def __init__(self):
        self.now = 100.0

    def wall(self):
        return 1_800_000_000 + self.now


def pair(peers_seen=None):
    clock = Clock()
    web1 = Membership(ha_cf(), KEYS, "web1", b"\1" * 16, 0x10, wall=clock.wall, rng=random.Random(1),
                      peers_seen=peers_seen)  # fmt: skip
    web2 = Membership(ha_cf(), KEYS, "web2", b"\2" * 16, 0x64, wall=clock.wall, rng=random.Random(2))
    web1.start(clock.now)
    for action in web2.start(clock.now):  # web1 hears web2's first statuses: it knows its generation
        if isinstance(action, Transmit):
            web1.receive(action.data, "eth0", clock.now)
    return clock, web1, web2


def logs(actions):
    return [a.text for a in actions if isinstance(a, Log)]


# ---------------------------------------------------------------------------------------------
# the wire: refused before anything is parsed


@pytest.mark.parametrize(("entry", "data"), corpus("wire"))
def test_corpus_datagrams_are_refused_as_unauthenticated_without_being_parsed(entry, data, monkeypatch):
    with contextlib.suppress(WireError):
        wire.decode(data)  # with no key: parsed, or a WireError, never another exception

    def never(*_args):
        raise AssertionError("parsed before authentication")

    monkeypatch.setattr(wire, "_parse_ns_body", never)
    monkeypatch.setattr(wire, "_parse_classic", never)
    with pytest.raises(WireError):  # framing (a WireError) or the key (an AuthError), never the parser
        wire.decode(data, KEYS)


@pytest.mark.parametrize(("entry", "data"), corpus("wire"))
def test_corpus_datagrams_do_not_reach_membership(entry, data):
    clock, web1, _web2 = pair()
    actions = web1.receive(data, "eth0", clock.now)
    assert all(isinstance(a, Log) and a.text.startswith("bad packet on eth0: ") for a in actions)
    assert web1.dropped["unauthenticated"] + web1.dropped["malformed"] == 1


def test_a_rejected_packet_is_logged_without_any_token():
    clock, web1, web2 = pair()
    good = next(
        a.data for a in web2.send(Message.of(t="shutdone", st="dead"), clock.now) if isinstance(a, Transmit)
    )
    forged = good.replace(b"shutdone", b"shutdonf")
    (line,) = logs(web1.receive(forged, "eth0", clock.now))
    signed = forged[: forged.rindex(b"%%%\n") + 4]
    expected = wire.digest("md5", b"mot_de_passe", signed)
    assert line == "bad packet on eth0: authtoken does not match"
    assert expected not in line and "mot_de_passe" not in line


def test_garbage_is_logged_a_few_times_then_counted():
    clock, web1, _web2 = pair()
    lines = []
    for i in range(1000):
        lines += logs(web1.receive(b"garbage %d" % i, "eth0", clock.now + i * 0.001))
    assert len(lines) == ratelimit.LOG_BURST
    later = logs(web1.receive(b"garbage", "eth0", clock.now + ratelimit.LOG_INTERVAL_S + 1))
    assert later == [f"bad packet on eth0: unknown message format (neither ### nor >>>) "
                     f"({1000 - ratelimit.LOG_BURST} similar message(s) suppressed)"]  # fmt: skip
    assert web1.dropped["malformed"] == 1001
    assert web1.snapshot(clock.now)["dropped"] == {"malformed": 1001}


# ---------------------------------------------------------------------------------------------
# membership: messages past authentication


@pytest.mark.parametrize(("entry", "data"), corpus("membership"))
def test_corpus_messages_past_authentication_raise_nothing(entry, data):
    clock, web1, _web2 = pair()
    msg = wire.decode(data)
    web1.receive_message(msg, "eth0", clock.now)  # as parsed
    signed = wire.netstring_encode(msg)
    web1.receive(signed + wire.trailing_auth(signed, KEYS), "eth0", clock.now)  # as received
    for _round in range(40):  # the huge deadtime used to blow up in the next tick
        clock.now += 0.25
        web1.tick(clock.now)
        web1.next_wakeup(clock.now)


def test_numbers_that_cannot_be_numbers_are_dropped_as_malformed():
    clock, web1, _web2 = pair()
    for value in ("f" * 4000, "\u00b2", "-1", "0x10", " 1", ""):
        msg = Message.of(t="x", src="web2", seq=value, hg="64", ts="6b4f0000")
        assert (
            web1.receive_message(msg, "eth0", clock.now)[-1:]
            == [Log("error", "should_drop_message: bad sequence number")]
            or web1.dropped["malformed"]
        )
    assert membership._hex("f" * 17) is None and membership._hex("ffffffffffffffff") == 2**64 - 1
    assert membership._dec("9" * 20) is None and membership._dec(b"1") is None


def test_a_huge_advertised_deadtime_is_clamped():
    clock, web1, _web2 = pair()
    status = Message.of(t="status", st="active", dt="f" * 16, src="web2", seq="4", hg="64", ts="6b4f0000")
    web1.receive_message(status, "eth0", clock.now)
    assert web1.peers["web2"].dead_ms == membership.MAX_DT_MS
    web1.tick(clock.now + 1)


def test_an_unencodable_reply_is_not_sent_and_nothing_raises():
    clock, web1, _web2 = pair()
    query = Message.of(t="query-cstatus", dest="web1", src="web2", seq="4", hg="64", ts="6b4f0000", cn="x")
    query.fields.append((wire.T_STRING, "from_id", ""))
    actions = web1.receive_message(query, "eth0", clock.now)
    (reply,) = [a.msg for a in actions if isinstance(a, Transmit) and a.msg["t"] == "respond-cstatus"]
    assert reply["to_id"] == "0" and reply["cn"] == "x"


# ---------------------------------------------------------------------------------------------
# replays: bounded state, bounded answers, and no replay across a local restart


def captured(sender, clock, count, mtype="x"):
    return [next(a.data for a in sender.send(Message.of(t=mtype), clock.now) if isinstance(a, Transmit))
            for _round in range(count)]  # fmt: skip


@pytest.mark.parametrize("count", [80, 2000])
def test_replayed_packets_with_gaps_keep_the_missing_set_bounded(count):
    """Issue 8: 80 replayed packets made ~19,900 missing entries and ~26,700 datagrams; with the key,
    2,000 such packets made one tick last 200 s."""
    clock, web1, web2 = pair()
    packets = []
    for _round in range(count):
        packets += captured(web2, clock, 1)
        web2.seq += seqtrack.GAP_RESET - 1  # the attacker replays one packet in 249
    for data in packets:
        web1.receive(data, "eth0", clock.now)
    peer = web1.peers["web2"]
    assert len(peer.missing) <= seqtrack.MAX_MISSING
    peer.status = membership.ST_ACTIVE
    sent = 0
    for _step in range(40):  # ten seconds of rexmit rounds
        clock.now += 0.25
        sent += sum(1 for a in web1.tick(clock.now) if isinstance(a, Transmit) and a.msg["t"] == "NS_rexmit")
    assert 0 < sent <= 40 * seqtrack.MAX_REQUESTS_PER_ROUND


def test_replayed_rexmit_requests_are_answered_within_a_budget():
    """3.0.6 answers up to 50 packets per request, and any number of requests (NAKs unbounded); here a
    requester gets at most 50 answers (packets and NAKs) per 240 ms, however many requests come."""
    clock, web1, web2 = pair()
    for _round in range(300):
        web1.send(Message.of(t="filler"), clock.now)
    requests = []
    for first in range(1, 300, 50):
        request = Message.of(t="NS_rexmit", dest="web1", firstseq=str(first), lastseq=str(first + 49))
        requests.append(next(a.data for a in web2.send(request, clock.now) if isinstance(a, Transmit)))
    answered = 0
    for i in range(60):  # different requests replayed within 60 ms
        actions = web1.receive(requests[i % len(requests)], "eth0", clock.now + i * 0.001)
        answered += sum(isinstance(a, Transmit) for a in actions)
    assert answered == membership.MAX_REXMIT_PER_REQUEST
    assert web1.dropped["rexmit_over_budget"] > 0
    later = web1.receive(requests[1], "eth0", clock.now + 1.0)  # the next window: answered again
    assert sum(isinstance(a, Transmit) for a in later) == membership.MAX_REXMIT_PER_REQUEST


def test_old_generation_packets_replayed_after_a_local_restart_are_dropped():
    """Issue 8: after web1 restarted, web2's shutdone of an older generation was taken, and web1
    took web2's group. The generation web1 saw is now kept across its restart."""
    clock, web1, web2 = pair()
    old_shutdone = captured(web2, clock, 1, "shutdone")[0]
    for data in captured(web2, clock, 3):
        web1.receive(data, "eth0", clock.now)
    newer = Membership(ha_cf(), KEYS, "web2", b"\2" * 16, 0x65, wall=clock.wall)
    status = next(a.data for a in newer.send_status(clock.now) if isinstance(a, Transmit))
    web1.receive(status, "eth0", clock.now)
    saved = web1.peer_marks()
    assert saved == {"web2": (0x65, 1)}

    restarted = Membership(ha_cf(), KEYS, "web1", b"\1" * 16, 0x11, wall=clock.wall, peers_seen=saved)
    restarted.start(clock.now)
    actions = restarted.receive(old_shutdone, "eth0", clock.now)
    assert not [a for a in actions if isinstance(a, membership.Delivered)]
    assert logs(actions) == ["should_drop_message: attempted replay attack [web2]? [gen = 100, curgen = 101]"]
    # what 3.0.6 does, for comparison: a node that forgot takes it
    forgetful = Membership(ha_cf(), KEYS, "web1", b"\1" * 16, 0x11, wall=clock.wall)
    forgetful.start(clock.now)
    assert [a.msg["t"] for a in forgetful.receive(old_shutdone, "eth0", clock.now)
            if isinstance(a, membership.Delivered)] == ["shutdone"]  # fmt: skip


def test_same_generation_packets_replayed_after_a_local_restart_are_dropped():
    clock, web1, web2 = pair()
    takeover = captured(web2, clock, 1, "hb_takeover")[0]
    actions = web1.receive(takeover, "eth0", clock.now)
    assert [a for a in actions if isinstance(a, membership.RememberPeer)] == [
        membership.RememberPeer("web2", 0x64, 4)
    ]
    restarted = Membership(
        ha_cf(), KEYS, "web1", b"\1" * 16, 0x11, wall=clock.wall, peers_seen=web1.peer_marks()
    )
    restarted.start(clock.now)
    again = restarted.receive(takeover, "eth0", clock.now)
    assert not [a for a in again if isinstance(a, membership.Delivered)]
    assert "[seq = 4, accepted up to 4]" in logs(again)[0]
    fresh = captured(web2, clock, 1, "hb_takeover")[0]  # the peer's next message is taken as usual
    assert [a.msg["t"] for a in restarted.receive(fresh, "eth0", clock.now)
            if isinstance(a, membership.Delivered)] == ["hb_takeover"]  # fmt: skip


def test_packets_replayed_after_the_peer_was_declared_dead_are_dropped():
    clock, web1, web2 = pair()
    old = captured(web2, clock, 3, "resource")
    for data in old:
        web1.receive(data, "eth0", clock.now)
    clock.now += 30
    web1.tick(clock.now)
    assert web1.node_status("web2") == "dead" and web1.peers["web2"].last_seq is None
    assert not [a for a in web1.receive(old[1], "eth0", clock.now) if isinstance(a, membership.Delivered)]


# ---------------------------------------------------------------------------------------------
# configuration files


@pytest.mark.parametrize(("entry", "data"), corpus("config"))
def test_corpus_files_give_config_errors_with_file_and_line(entry, data, tmp_path):
    kind = entry["file"]
    path = tmp_path / kind
    path.write_bytes(data)
    errors = []
    try:
        text, _mode = hc.read_config_file(str(path), strict=kind != "authkeys")
        if kind == "ha.cf":
            hc.parse_ha_cf(text, str(path))
        elif kind == "haresources":
            hc.parse_haresources(text, str(path))
        elif kind == "authkeys":
            hc.parse_authkeys(text, str(path), 0o100600)
        else:
            from hbagent import agentconf

            agentconf.parse_agent_conf(text, str(path), [])
    except hc.ConfigErrors as exc:
        errors = exc.errors
    assert errors, "refused"
    assert any(e.line is not None for e in errors)
    assert all(str(e).startswith(f"{path}:") for e in errors)
    assert "SuperSecretKey" not in "\n".join(map(str, errors))


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("deadtime " + "9" * 309 + "\n", 1, "deadtime: invalid time ["),
        ("udpport \u00b2694\n", 1, "udpport: invalid port [\u00b2694] specified"),
        ("memreserve " + "9" * 5000 + "\n", 1, "memreserve: invalid number ["),
        ("node web1\fweb2\n", 1, "non-printable character U+000C"),
        ("node a\u2028bogus x\n", 1, "non-printable character U+2028"),
        ("node a\x00b\n", 1, "NUL character in the line"),
        ("bcast \u00e9th0\n", 1, "bcast: invalid interface name [\u00e9th0]"),
    ],
)
def test_hostile_ha_cf_values(text, line, reason):
    with pytest.raises(hc.ConfigErrors) as info:
        hc.parse_ha_cf(text + "node web1\nbcast eth0\n")
    found = [e for e in info.value.errors if e.line == line]
    assert any(reason in e.reason for e in found), info.value


def test_line_numbers_follow_newlines_only():
    """A form feed or U+2028 used to start a new line for the parser: every later line number was wrong."""
    with pytest.raises(hc.ConfigErrors) as info:
        hc.parse_ha_cf("node web1\u2028web2\nbcast eth0\nbogus x\n")
    located = [(e.line, e.reason.split(" ")[0]) for e in info.value.errors if e.line is not None]
    assert located == [(1, "non-printable"), (3, "Illegal")]


def test_authkeys_errors_never_print_a_key():
    with pytest.raises(hc.ConfigErrors) as info:
        hc.parse_authkeys("auth 3\nSuperSecretKey\n3 TopSecret9 x\n")
    text = str(info.value)
    assert "SuperSecret" not in text and "TopSecret" not in text
    assert "/etc/ha.d/authkeys:2: Auth line is invalid" in text
    assert "/etc/ha.d/authkeys:3: unknown authentication method (crc, md5 or sha1)" in text


def test_authkeys_key_bytes_survive_and_c_white_space_splits():
    keys = hc.parse_authkeys("auth 1\n1 md5 caf\udce9\xa0x\n2\vsha1\fk\n")
    assert keys.keys[1] == ("md5", b"caf\xe9\xc2\xa0x") and keys.keys[2] == ("sha1", b"k")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: __import__("os").mkfifo(p), "a FIFO, not a regular file: refused"),
        (lambda p: p.symlink_to("/dev/zero"), "a device, not a regular file: refused"),
        (lambda p: p.mkdir(), "a directory, not a regular file: refused"),
        (lambda p: p.write_bytes(b"#" * (hc.MAX_CONFIG_BYTES + 1)), "more than the 1048576"),
        (lambda p: p.write_bytes(b"node web1\n# caf\xe9\n"), "not valid UTF-8 (byte 0xe9)"),
    ],
)
def test_files_that_are_not_configuration_files_are_refused_clearly(tmp_path, make, reason):
    path = tmp_path / "ha.cf"
    make(path)
    with pytest.raises(hc.ConfigErrors) as info:
        hc.read_config_file(str(path))
    (error,) = info.value.errors
    assert error.path == str(path) and reason in error.reason


def test_renderers_refuse_what_they_cannot_print():
    for settings in ({"nodes": ["a"], "udpport": "\u00b2"}, {"keepalive": float("inf")}, {"keepalive": 10**5000},
                     {"nodes": [10**5000]}, {10**5000: 1}):  # fmt: skip
        with pytest.raises(hc.ConfigErrors):
            hc.render_ha_cf(settings)
    with pytest.raises(hc.ConfigErrors):
        hc.render_authkeys({"active": "\u00b2", "keys": {10**5000: {"method": "md5", "key": 10**5000}}})


# ---------------------------------------------------------------------------------------------
# control requests


@pytest.mark.parametrize(("entry", "data"), corpus("control"))
def test_corpus_control_requests_are_refused(entry, data):
    with pytest.raises(control.BadRequest):
        control.parse_request(data)


def test_control_requests_are_normalized():
    assert control.parse_request(b'{"cmd": "clientstatus", "node": "WEB2", "client": "ipfail"}') == {
        "cmd": "clientstatus", "node": "web2", "client": "ipfail", "timeout_ms": 500,
    }  # fmt: skip
    assert control.parse_request(b'{"cmd": "takeover"}') == {"cmd": "takeover", "which": "all"}
    with pytest.raises(control.BadRequest, match=r"^client must be a non-empty string, got ''$"):
        control.parse_request(b'{"cmd": "clientstatus", "node": "web2", "client": ""}')
