"""Fuzz targets: everything hbagent reads from someone else.

* wire-unauthenticated: any datagram, as anyone on the LAN can send it, decoded with and without keys;
* wire-authenticated: mutated messages *signed with the key*, so that the parser behind the key is
  reached (what a peer with the key, or a bug of ours, could send);
* membership: messages past authentication into the membership state machine and the resource
  manager behind it, with the fake clock running;
* ha.cf, haresources, authkeys, hbagent.conf: mutated files through their parsers;
* control: control-socket request lines through parse_request and a real (not running) daemon.

Each target accepts its own refusals (WireError, ConfigErrors, BadRequest, an error reply) and nothing
else: any other exception is a finding. Seeds: the captured 3.0.6 packets, the lab's configuration,
and the regression corpus (tests/fuzz/corpus/*.json: every crasher of issue 8).
"""

from __future__ import annotations

import base64
import contextlib
import json
import pathlib
import random
import socket
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fuzzlib import Mutator  # noqa: E402

from hbagent import agentconf, control, daemon, rscmgr, wire  # noqa: E402
from hbagent import config as hc  # noqa: E402
from hbagent.membership import (  # noqa: E402
    CommUp,
    Delivered,
    Membership,
    NodeStatusChanged,
    Transmit,
)
from hbagent.wire import T_BINARY, T_LIST, T_STRING, T_STRUCT, Message  # noqa: E402

CORPUS_DIR = pathlib.Path(__file__).resolve().parent / "corpus"
VECTORS = json.loads((ROOT / "tests/data/heartbeat-test-vectors.json").read_text())["vectors"]
KEYS = hc.AuthKeys(3, {3: ("md5", b"mot_de_passe"), 1: ("crc", None), 2: ("sha1", b"mot_de_passe")})
MD5_ONLY = hc.AuthKeys(3, {3: ("md5", b"mot_de_passe")})

HA_CF = """# lab ha.cf
logfile /var/log/ha-log
keepalive 500ms
warntime 2
deadtime 5
initdead 10
udpport 694
bcast eth0
mcast eth1 239.0.0.1 694 1 0
ucast eth0 10.213.10.12
node web1 web2
auto_failback on
ping 10.213.10.1
max_rexmit_delay 250
memreserve 6500
crm off
"""
HARESOURCES = "web1 IPaddr::10.213.10.50/24/eth0 apache2\nweb2 10.213.10.51 \\\n   Filesystem::/dev/sdb1::/data::ext4 mysql\n"
AUTHKEYS = "auth 3\n3 md5 mot_de_passe\n1 crc\n2 sha1 s3cr#t\n"
AGENT_CONF = "# agent only\nmake_before_break IPaddr::10.213.10.50/24/eth0\nallow_crc no\n"
GROUPS = hc.parse_haresources("web1 IPaddr::10.213.10.50/24/eth0 apache2\nweb2 10.213.10.51 mysql\n")


def load_corpus(name: str) -> list[dict]:
    """Entries of tests/fuzz/corpus/<name>.json: {name, why, b64}."""
    path = CORPUS_DIR / f"{name}.json"
    return json.loads(path.read_text())["entries"] if path.exists() else []


def corpus_bytes(name: str) -> list[bytes]:
    return [base64.b64decode(entry["b64"]) for entry in load_corpus(name)]


# ---------------------------------------------------------------------------------------------
# wire


def vector_packets() -> list[bytes]:
    return [base64.b64decode(v["packet_b64"]) for v in VECTORS]


def _classic_seed(**fields) -> bytes:
    msg = Message.of(**fields)
    msg.add("auth", wire.auth_field_value(msg, KEYS))
    return wire.classic_encode(msg)


def wire_seeds() -> list[bytes]:
    seeds = vector_packets()
    seeds.append(
        _classic_seed(t="status", st="active", src="web2", seq="1", hg="6b", ts="6b06ee7a", dt="2710")
    )
    seeds.append(wire.encode(wire.compress_wrapper(Message.of(t="x", big="y" * 3000)), KEYS))
    nested = Message.of(t="x", inner=Message.of(a="b", l=["1", "2"]), raw=b"\0\1")
    seeds.append(wire.encode(nested, KEYS))
    seeds.append(wire.classic_encode(nested))
    return seeds + corpus_bytes("wire")


FIELD_NAMES = [b"t", b"src", b"seq", b"hg", b"ts", b"dt", b"st", b"auth", b"dest", b"_compressed_payload",
               b"_compression_algorithm", b"x"]  # fmt: skip
FIELD_VALUES = [b"status", b"web2", b"1", b"64", b"ff", b"YWJj", b"YQ==", b"eJwrzs8pzUstSgUAEFQDuw==",
                b"3 " + b"0" * 32, b"3 abc", b"15 x", b"9" * 5000 + b" x", b"1" * 70, b"\xc2\xb2 x", b"zlib", b"bz2",
                b"", b"3:abc", b"###\n%%%\n", b">>>\n<<<\n", b"\x14", b"a\x14b=c\x14"]  # fmt: skip


def structured_packet(rng: random.Random) -> bytes:
    """Field by field, with type tags and values that once crashed the parser or the auth check."""
    fields = []
    for _round in range(rng.randint(1, 6)):
        tag = rng.choice([b"", b"", b"(0)", b"(1)", b"(2)", b"(3)", b"(4)", b"(5)", b"(7)"])
        fields.append(tag + rng.choice(FIELD_NAMES) + b"=" + rng.choice(FIELD_VALUES))
    if rng.random() < 0.5:
        return b">>>\n" + b"".join(f + b"\n" for f in fields) + b"<<<\n"
    body = b"###\n" + b"".join(b"%d:%s," % (len(f), f) for f in fields) + b"%%%\n"
    authstr = rng.choice([b"3 " + b"0" * 32, b"3 " + b"9" * 60, b"99 x", b"\xc2\xb2 x", b"1 0", b""])
    return body + b"%d:%s," % (len(authstr), authstr)


def wire_generator():
    mutate = mutating(wire_seeds())

    def generate(rng: random.Random) -> bytes:
        return structured_packet(rng) if rng.random() < 0.25 else mutate(rng)

    return generate


def check_decode(data: bytes) -> None:
    for keys in (KEYS, MD5_ONLY, None):
        with contextlib.suppress(wire.WireError):
            wire.decode(data, keys)


def sign(body: bytes, classic: bool) -> bytes:
    """`body` made authentic: a netstring signed region with its trailing auth, or classic lines with
    an `auth=` line computed over exactly those lines."""
    if classic:
        lines = body.split(b"<<<", 1)[0].removeprefix(b">>>\n")
        if lines and not lines.endswith(b"\n"):
            lines += b"\n"
        token = wire.digest("md5", b"mot_de_passe", lines)
        return b">>>\n" + lines + b"auth=3 " + token.encode() + b"\n<<<\n"
    return body + wire.trailing_auth(body, KEYS)


class WireAuthenticated:
    def __init__(self, rng_seed: int = 0):
        self.bodies = []
        for packet in wire_seeds():
            if packet.startswith(b"###\n") and b"%%%\n" in packet:
                self.bodies.append(packet[: packet.rindex(b"%%%\n") + 4])
            elif packet.startswith(b">>>\n"):
                self.bodies.append(packet)
        self.mutator = Mutator(random.Random(rng_seed), self.bodies)

    def generate(self, rng: random.Random) -> bytes:
        self.mutator.rng = rng
        body = self.mutator.mutate(rng.choice(self.bodies))
        return sign(body, body.startswith(b">>>"))

    @staticmethod
    def target(packet: bytes) -> None:
        with contextlib.suppress(wire.WireError):
            wire.decode(packet, KEYS)


# ---------------------------------------------------------------------------------------------
# membership and the resource manager behind it

MSG_TYPES = ["status", "NS_ackmsg", "NS_rexmit", "NS_nak_rexmit", "reqnodes", "repnodes", "query-cstatus",
             "respond-cstatus", "starting", "resource", "ask_resources", "hb_takeover", "shutdone",
             "ip-request", "ip-request-resp", "hbagent_mbb", "stonith", "x", "", "NS_", "status "]  # fmt: skip
NUMBERS = ["0", "1", "2", "a", "ff", "-1", "ffffffffffffffff", "10000000000000000", "18446744073709551616",
           "9" * 5000, "f" * 5000, "\u00b2", "\u0663", "0x10", " 1", "1e9", "", "7fffffff", "64"]  # fmt: skip
WORDS = {
    "src": ["web2", "web1", "evil", "WEB2", "", "web2\n"],
    "dest": ["web1", "web2", "web3", "", "WEB1"],
    "st": ["active", "up", "init", "dead", "ping", "", "x" * 100, "a\nb"],
    "rsc_hold": ["all", "local", "foreign", "none", "failback", "", "bogus"],
    "info": ["me", "other", "done", "ready", "standby", "", "x"],
    "isstable": ["0", "1", "", "2"],
    "hbagent_mbb": ["IPaddr::10.213.10.50/24/eth0", "10.213.10.51", "", "nope", "a b c"],
    "groups": ["IPaddr::10.213.10.50/24/eth0", "10.213.10.51", "", "x"],
    "cn": ["ipfail", "", "x" * 300],
    "from_id": ["1", "", "x" * 300],
    "cs": ["online", "offline", ""],
    "comment": ["x"],
}
NUMERIC = ("seq", "hg", "ts", "dt", "firstseq", "lastseq", "ackseq", "to_id", "ttl", "protocol")


class MembershipTarget:
    """web1 with a resource manager, fed messages as if they came from web2 with the key."""

    def __init__(self):
        self.rng = random.Random(0)
        self.reset()

    def reset(self) -> None:
        cfg = hc.parse_ha_cf("keepalive 1\ndeadtime 5\nwarntime 2\ninitdead 10\nbcast eth0\nnode web1 web2\n")
        self.now = 1000.0
        self.wall = 1_800_000_000.0
        self.node = Membership(cfg, KEYS, "web1", b"\1" * 16, 100, wall=lambda: self.wall,
                               rng=random.Random(1), peers_seen={"web2": (0x64, 3)})  # fmt: skip
        self.rsc = rscmgr.ResourceManager("web1", ["web1", "web2"], GROUPS, "on", clock=lambda: self.now)
        self.peer = Membership(
            cfg, KEYS, "web2", b"\2" * 16, 0x64, wall=lambda: self.wall, rng=random.Random(2)
        )
        self.peer.seq = 3  # what web1 saved of it (peers_seen)
        self.cases = 0
        self.apply(self.node.start(self.now))

    def apply(self, actions) -> None:
        pending = list(actions)
        while pending:
            action = pending.pop(0)
            if isinstance(action, Delivered):
                fields = [(n, v) for t, n, v in action.msg if t == T_STRING]
                pending += self.rsc_actions(self.rsc.message(action.node, fields, self.now))
            elif isinstance(action, NodeStatusChanged):
                pending += self.rsc_actions(self.rsc.peer_status(action.node, action.new, self.now))
            elif isinstance(action, CommUp):
                pending += self.rsc_actions(self.rsc.comm_up(self.now))

    def rsc_actions(self, actions) -> list:
        out = []
        for action in actions:
            if isinstance(action, rscmgr.Send):
                out += self.node.send(Message([(T_STRING, n, v) for n, v in action.fields]), self.now)
            elif isinstance(action, rscmgr.Acquire):
                out += self.rsc_actions(self.rsc.acquire_done(action.groups, True, (), self.now))
            elif isinstance(action, rscmgr.Release):
                out += self.rsc_actions(self.rsc.release_done(action.groups, True, (), self.now))
        return out

    def value(self, rng: random.Random, name: str, depth: int = 0):
        roll = rng.random()
        if roll < 0.06:
            return rng.choice([b"", b"\0" * 16, bytes(range(16)), b"x" * 17])
        if roll < 0.09:
            return [rng.choice(NUMBERS) for _round in range(rng.randint(0, 3))]
        if roll < 0.11 and depth < 3:
            return self.message(rng, depth + 1)
        if name in NUMERIC:
            if rng.random() < 0.5:
                return format(rng.choice([1, 2, 3, 99, 100, 101, 0x64, 2**40, rng.randrange(1, 600)]), "x")
            return rng.choice(NUMBERS)
        if name == "t":
            return rng.choice(MSG_TYPES)
        return rng.choice(WORDS.get(name, ["x", "", "y" * 50]))

    def message(self, rng: random.Random, depth: int = 0) -> Message:
        """Mostly plausible (web2, its generation, the next seq, a valid time), every field sometimes not."""
        names = ["t", "src", "dest", "seq", "hg", "ts"]
        names += rng.sample(["st", "dt", "rsc_hold", "info", "isstable", "hbagent_mbb", "groups", "cn", "from_id",
                             "to_id", "cs", "firstseq", "lastseq", "ackseq", "srcuuid", "destuuid", "ld", "ttl",
                             "protocol"], rng.randint(0, 6))  # fmt: skip
        msg = Message()
        for name in names:
            if rng.random() < 0.08:
                continue  # a standard field missing
            value = self.value(rng, name, depth)
            if name == "src" and rng.random() < 0.8:
                value = "web2"
            if name == "hg" and rng.random() < 0.8:
                value = "64"
            if name == "seq" and rng.random() < 0.7:
                value = "next"  # filled in by target(): the peer's next seq
            if name == "ts" and rng.random() < 0.7:
                value = "6b4f0000"
            if name == "dest" and rng.random() < 0.5:
                continue
            if name in ("srcuuid", "destuuid") and rng.random() < 0.7:
                value = rng.choice([b"\2" * 16, b"\1" * 16])
            ftype = T_BINARY if isinstance(value, bytes) else T_LIST if isinstance(value, list) else (
                T_STRUCT if isinstance(value, Message) else T_STRING)  # fmt: skip
            msg.fields.append((ftype, name, value))  # unchecked: the parser allows more than add() does
        return msg

    def generate(self, rng: random.Random):
        return self.message(rng), rng.random() < 0.3, rng.random() < 0.2

    def target(self, case) -> None:
        msg, through_wire, use_peer = case
        self.cases += 1
        if self.cases % 300 == 0:
            self.reset()
        for i, (ftype, name, value) in enumerate(msg.fields):
            if name == "seq" and value == "next":
                self.peer.seq += 1
                msg.fields[i] = (ftype, name, format(self.peer.seq, "x"))
        self.now += 0.05
        self.wall += 0.05
        if use_peer:  # a genuine, well-formed message from web2's own state machine
            mtype = msg.get("t") if isinstance(msg.get("t"), str) and msg.get("t") else "x"
            clean = Message([(t, n, v) for t, n, v in msg if t == T_STRING and n not in ("src", "seq", "hg", "ts")
                             and n != "t" and v])  # fmt: skip
            clean.fields.insert(0, (T_STRING, "t", mtype))
            with contextlib.suppress(wire.WireError):
                for action in self.peer.send(clean, self.now):
                    if isinstance(action, Transmit):
                        self.apply(self.node.receive(action.data, "eth0", self.now))
        elif through_wire:
            try:
                data = wire.netstring_encode(msg)
            except wire.WireError:
                return
            self.apply(self.node.receive(data + wire.trailing_auth(data, KEYS), "eth0", self.now))
        else:
            self.apply(self.node.receive_message(msg, "eth0", self.now))
        self.apply(self.node.tick(self.now))
        self.apply(self.rsc_actions(self.rsc.tick(self.now)))


# ---------------------------------------------------------------------------------------------
# configuration files


def config_seeds(kind: str) -> list[bytes]:
    base = {"ha.cf": HA_CF, "haresources": HARESOURCES, "authkeys": AUTHKEYS, "hbagent.conf": AGENT_CONF}[
        kind
    ]
    extra = [base64.b64decode(e["b64"]) for e in load_corpus("config") if e.get("file") == kind]
    return [base.encode(), *extra]


def parse_config(kind: str, data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    with contextlib.suppress(hc.ConfigErrors):
        if kind == "ha.cf":
            hc.parse_ha_cf(text, "/f/ha.cf")
        elif kind == "haresources":
            hc.parse_haresources(text, "/f/haresources", ["web1", "web2"])
            hc.parse_haresources(text, "/f/haresources")
        elif kind == "authkeys":
            hc.parse_authkeys(text, "/f/authkeys", 0o100600)
        else:
            agentconf.parse_agent_conf(text, "/f/hbagent.conf", GROUPS)


# ---------------------------------------------------------------------------------------------
# control socket

CONTROL_SEEDS = [
    b'{"cmd": "status"}',
    b'{"cmd": "clientstatus", "node": "web2", "client": "ipfail", "timeout_ms": 500}',
    b'{"cmd": "clientstatus", "node": "web1", "client": "x"}',
    b'{"cmd": "standby", "which": "local"}',
    b'{"cmd": "takeover", "which": "failback"}',
    b'{"cmd": "reload"}',
]


class ControlTarget:
    """A real daemon object (not running: no media, no socket) serving request lines."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="hakit-fuzz-")
        root = pathlib.Path(self.tmp.name)
        conf = root / "ha.d"
        conf.mkdir()
        (conf / "ha.cf").write_text("keepalive 1\ndeadtime 5\ninitdead 10\nudpport 6949\nucast lo 127.0.0.1\n"
                                    "node web1 web2\nauto_failback on\n")  # fmt: skip
        (conf / "haresources").write_text("web1 IPaddr::10.213.99.50/24/lo\n")
        (conf / "authkeys").write_text("auth 3\n3 md5 k\n")
        (conf / "authkeys").chmod(0o600)
        self.daemon = daemon.Daemon(str(conf), str(root / "state"), "web1", stream=open("/dev/null", "w"))  # noqa: SIM115

    def seeds(self) -> list[bytes]:
        return CONTROL_SEEDS + corpus_bytes("control")

    def target(self, line: bytes) -> None:
        with contextlib.suppress(control.BadRequest):
            control.parse_request(line)
        ours, theirs = socket.socketpair()
        try:
            ours.setblocking(False)
            client = daemon._Client(ours, deadline=None)
            self.daemon.clients[ours.fileno()] = client
            theirs.sendall(line.replace(b"\n", b" ") + b"\n")
            self.daemon._client_readable(client)  # may leave it waiting (clientstatus, standby)
            self.daemon._expire_clients(float("inf"))  # every waiting client times out now
            theirs.settimeout(1)
            answer = theirs.recv(65536)
            reply = json.loads(answer)
            if not isinstance(reply, dict) or "ok" not in reply:
                raise AssertionError(f"bad reply {answer[:200]!r}")
        finally:
            theirs.close()
            with contextlib.suppress(OSError):
                ours.close()
        self.daemon.pending_reply.clear()
        self.daemon.pending_cstatus.clear()
        self.daemon.clients.clear()


# ---------------------------------------------------------------------------------------------
# registry


def mutating(seeds: list[bytes]):
    mutator = Mutator(random.Random(0), seeds)

    def generate(rng: random.Random) -> bytes:
        mutator.rng = rng
        if rng.random() < 0.02:
            return bytes(rng.randrange(256) for _round in range(rng.randint(0, 64)))
        return mutator.mutate(rng.choice(seeds))

    return generate


def build(name: str):
    """(target, generate) for a target name."""
    if name == "wire-unauthenticated":
        return check_decode, wire_generator()
    if name == "wire-authenticated":
        auth = WireAuthenticated()
        return auth.target, auth.generate
    if name == "membership":
        member = MembershipTarget()
        return member.target, member.generate
    if name in ("ha.cf", "haresources", "authkeys", "hbagent.conf"):
        return (lambda data, kind=name: parse_config(kind, data)), mutating(config_seeds(name))
    if name == "control":
        ctl = ControlTarget()
        return ctl.target, mutating(ctl.seeds())
    raise KeyError(name)


TARGETS = ["wire-unauthenticated", "wire-authenticated", "membership", "ha.cf", "haresources", "authkeys",
           "hbagent.conf", "control"]  # fmt: skip
