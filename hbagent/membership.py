"""Heartbeat 3.0.6 membership as a pure state machine: events in, actions out.

No sockets, no files, no clock of its own: every call gets `now` (monotonic seconds); wall-clock
time (`ts`) and the load average (`ld`) come from injected callables.  The daemon feeds received
datagrams and periodic ticks in and carries the returned actions out (transmit, log, events).

Spec sections: 5 (standard fields), 6 (generations, sequence tracking, rexmit, acks), 7 (status,
death detection, comm-up, reqnodes/repnodes).

Extension points for the resource layer (rscmgr):
* actions NodeStatusChanged / PeerRestarted / PartitionHealed / CommUp / Delivered(node, msg) describe what
  happened; a Delivered action is emitted for every accepted cluster message addressed to this
  node that membership does not handle itself (starting, resource, ask_resources, shutdone, ...);
* `handlers[t]` can instead claim a message type: handler(msg, node, now) -> list[Message] to send;
* `send(msg, now)` sends a message with the standard fields, sequenced and kept for retransmission.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from . import ratelimit, seqtrack, wire
from .wire import Message

ST_INIT, ST_UP, ST_ACTIVE, ST_DEAD = "init", "up", "active", "dead"
LINK_UP, LINK_DEAD = "up", "dead"

STARTUP_DT_BOOST_MS = 2000  # dt advertised during the first seconds after start
STARTUP_DT_BOOST_S = 5.0
HISTORY_SIZE = 500  # MAXMSGHIST
REXMIT_MIN_GAP_S = 0.24  # do not re-send the same packet twice within this time
MAX_REXMIT_PER_REQUEST = seqtrack.MAX_REXMIT_BATCH
SEQ_GAP_RESET = seqtrack.GAP_RESET  # more missing than this: start over
MAX_DT_MS = 2**31 - 1  # a peer's advertised deadtime, clamped (3.0.6 reads it into a long)
MAX_STATUS_LEN = 64  # a peer's status word (init, up, active, dead, ...)
MIN_REXMIT_DELAY_MS = 50
CHECK_INTERVAL_S = 0.1  # timeout checks (Heartbeat: 250 ms)
DEADLINE_SLACK_S = 0.001  # wake just after a death deadline (the check is "silence > deadtime")
ACK_DIVISOR = 10


# --------------------------------------------------------------------------------------------
# actions


@dataclass(frozen=True)
class Transmit:
    """Send these bytes on every medium."""

    data: bytes
    msg: Message


@dataclass(frozen=True)
class Log:
    level: str  # debug | info | warning | error | crit
    text: str


@dataclass(frozen=True)
class NodeStatusChanged:
    """A peer's status string changed (init/up/active/dead or anything a peer sends)."""

    node: str
    old: str
    new: str


@dataclass(frozen=True)
class LinkStatusChanged:
    node: str
    link: str
    status: str


@dataclass(frozen=True)
class PeerRestarted:
    node: str


@dataclass(frozen=True)
class PartitionHealed:
    """A peer declared dead is heard again without having restarted (same generation): both sides
    may hold the same resources now (split brain); the resource layer decides who keeps what."""

    node: str


@dataclass(frozen=True)
class CommUp:
    """Every node heard from or declared dead: the local node is now active."""


@dataclass(frozen=True)
class Delivered:
    """An accepted cluster message for this node that membership leaves to upper layers."""

    node: str
    msg: Message


@dataclass(frozen=True)
class RememberPeer:
    """Persist `peer_marks()` now: a peer's generation changed, or a message that changes the cluster
    (anything but a status) was accepted from it. Loaded back at start (Membership(peers_seen=…)),
    so that its older packets, replayed after a local restart, are still dropped."""

    node: str
    generation: int
    seq: int


Action = (
    Transmit
    | Log
    | NodeStatusChanged
    | LinkStatusChanged
    | PeerRestarted
    | PartitionHealed
    | CommUp
    | Delivered
    | RememberPeer
)
Handler = Callable[[Message, str, float], list[Message]]


# --------------------------------------------------------------------------------------------
# state


@dataclass
class Link:
    status: str = LINK_DEAD
    last_heard: float | None = None


@dataclass
class Peer:
    name: str
    dead_ms: int
    ack_trigger: int
    links: dict[str, Link]
    status: str = ST_INIT
    uuid: bytes | None = None
    heard: bool = False
    generation: int = 0
    last_seq: int | None = None
    missing: dict[int, float] = field(default_factory=dict)  # seq -> when to ask for it next
    last_status_at: float | None = None
    last_status_ts: int = 0
    last_status_seq: int = 0
    late_warned: bool = False
    acked_seq: int = 0  # highest ackseq this peer sent us
    saved_seq: int = 0  # highest seq of `generation` accepted before a local restart (peers_seen)
    high_seq: int = 0  # highest seq of `generation` accepted since
    last_rexmit_req: float | None = None

    def reset_tracking(self) -> None:
        self.last_seq = None
        self.missing.clear()


@dataclass
class _Sent:
    seq: int
    data: bytes
    msg: Message
    last_rexmit: float | None = None


_HEX_RE = re.compile(r"[0-9a-fA-F]{1,16}")  # sscanf("%lx"): 64 bits at most
_DEC_RE = re.compile(r"[0-9]{1,19}")  # atoi()


def _hex(value) -> int | None:
    """A hex field of a received message, or None: anything but 1..16 hex digits (a binary field, a
    struct, 4,000 digits) is not a number here."""
    if isinstance(value, str) and _HEX_RE.fullmatch(value):
        return int(value, 16)
    return None


def _dec(value) -> int | None:
    if isinstance(value, str) and _DEC_RE.fullmatch(value):
        return int(value)
    return None


def _word(value, default: str) -> str:
    """A short printable string field to echo back, else `default`."""
    if isinstance(value, str) and 0 < len(value) <= 256 and value.isprintable():
        return value
    return default


def _default_loadavg() -> str:
    return "0.00 0.00 0.00 1/1 1"


class Membership:
    def __init__(
        self,
        ha_cf,
        authkeys,
        local_node: str,
        uuid: bytes,
        generation: int,
        *,
        wall: Callable[[], float] = time.time,
        loadavg: Callable[[], str] = _default_loadavg,
        rng: random.Random | None = None,
        peers_seen: dict[str, tuple[int, int]] | None = None,
    ):
        self.cfg = ha_cf
        self.authkeys = authkeys
        self.me = local_node.lower()
        if self.me not in ha_cf.nodes:
            raise ValueError(
                f"Current node [{self.me}] not in configuration (node directive of {ha_cf.path})"
            )
        self.uuid = uuid
        self.generation = generation
        self.wall = wall
        self.loadavg = loadavg
        self.rng = rng or random.Random()
        self.link_names = list(dict.fromkeys(m.name for m in ha_cf.media))
        self.peers = {
            name: Peer(
                name, ha_cf.deadtime_ms, self.rng.randrange(ACK_DIVISOR), {n: Link() for n in self.link_names}
            )
            for name in ha_cf.nodes
            if name != self.me
        }
        self.status = ST_INIT
        self.comm_up = False
        self.started_at: float | None = None
        self.next_status_at = 0.0
        self.seq = 0
        self.history: deque[_Sent] = deque(maxlen=HISTORY_SIZE)
        self.handlers: dict[str, Handler] = {"query-cstatus": self._answer_cstatus}
        self.ttl = str(ha_cf.hopfudge + len(ha_cf.nodes))
        self.log_badpack = str(ha_cf.get("log_badpack", "true")).lower() in ("true", "on", "yes", "y", "1")
        for name, (generation_seen, seq_seen) in (peers_seen or {}).items():
            if name in self.peers:
                self.peers[name].generation, self.peers[name].saved_seq = generation_seen, seq_seen
        self.limiter = ratelimit.LogLimiter()
        # answers to NS_rexmit per requester: 3.0.6 re-sends at most 50 packets per request and the same
        # packet at most once per max_rexmit_delay - 10 ms; here the NAKs count too, per window
        self.rexmit_budget = ratelimit.Budget(MAX_REXMIT_PER_REQUEST, REXMIT_MIN_GAP_S)
        self.dropped: Counter[str] = Counter()  # inputs dropped, by reason (status --json shows them)

    def _limited(self, level: str, key, text: str, now: float) -> list[Action]:
        """A log line that input can trigger at will: rate-limited per kind, with the suppressed count."""
        shown = self.limiter.text(key, text, now)
        return [Log(level, shown)] if shown is not None else []

    def peer_marks(self) -> dict[str, tuple[int, int]]:
        """{peer: (generation, highest seq accepted)} for the peers heard from: what RememberPeer saves."""
        marks = {}
        for name, peer in self.peers.items():
            if peer.generation:
                marks[name] = (peer.generation, max(peer.high_seq, peer.saved_seq))
        return marks

    # ---------------------------------------------------------------------------------------
    # events

    def start(self, now: float) -> list[Action]:
        """Heartbeat's start-up: status init, up, up (with a longer dt), then one per keepalive."""
        self.started_at = now
        out: list[Action] = []
        self.status = ST_INIT
        out += self.send_status(now)
        self.status = ST_UP
        out.append(Log("info", f"Local status now set to: '{ST_UP}'"))
        out += self.send_status(now)
        out += self.send_status(now)
        self.next_status_at = now + self.cfg.keepalive_ms / 1000
        out += self._check_comm_up(now)
        return out

    def reconfigure(self, ha_cf, authkeys, now: float) -> None:
        """A reloaded ha.cf/authkeys (same nodes and media: the daemon refuses other changes). The
        next keepalive goes out on the new schedule; our new deadtime reaches the peers in `dt`."""
        if ha_cf.nodes != self.cfg.nodes:
            raise ValueError("the node list cannot change while running")
        self.cfg = ha_cf
        self.authkeys = authkeys
        self.ttl = str(ha_cf.hopfudge + len(ha_cf.nodes))
        self.log_badpack = str(ha_cf.get("log_badpack", "true")).lower() in ("true", "on", "yes", "y", "1")
        if self.started_at is not None:
            self.next_status_at = min(self.next_status_at, now + ha_cf.keepalive_ms / 1000)

    def tick(self, now: float) -> list[Action]:
        """Periodic work: keepalive, death/link timeouts, late warnings, retransmission requests."""
        out: list[Action] = []
        if self.started_at is None:
            return out
        if now >= self.next_status_at:
            out += self.send_status(now)
            self.next_status_at += self.cfg.keepalive_ms / 1000
            if self.next_status_at <= now:  # fell behind (suspend, overload): do not burst
                self.next_status_at = now + self.cfg.keepalive_ms / 1000
        for peer in self.peers.values():
            out += self._check_peer_timeouts(peer, now)
            out += self._request_missing(peer, now)
        out += self._check_comm_up(now)
        return out

    def next_wakeup(self, now: float) -> float:
        """Latest time the next tick() is useful."""
        wake = min(self.next_status_at, now + CHECK_INTERVAL_S)
        for peer in self.peers.values():
            if peer.missing:
                wake = min(wake, *peer.missing.values())
            if peer.status != ST_DEAD and self.started_at is not None:
                # wake right at the death deadline, not up to CHECK_INTERVAL_S after it
                since = peer.last_status_at if peer.last_status_at is not None else self.started_at
                wake = min(wake, since + self._dead_after(peer) + DEADLINE_SLACK_S)
        return max(wake, now)

    def _dead_after(self, peer: Peer) -> float:
        """Seconds of silence after which `peer` is dead (initdead until comm is up)."""
        return (peer.dead_ms if self.comm_up else max(peer.dead_ms, self.cfg.initdead_ms)) / 1000

    def receive(self, data: bytes, link: str, now: float) -> list[Action]:
        """One datagram received on `link` (the medium's interface name)."""
        try:
            msg = wire.decode(data, self.authkeys)
        except wire.WireError as exc:
            self.dropped["unauthenticated" if isinstance(exc, wire.AuthError) else "malformed"] += 1
            if not self.log_badpack:
                return []
            return self._limited("error", ("badpack", link), f"bad packet on {link}: {exc}", now)
        return self.receive_message(msg, link, now)

    def receive_message(self, msg: Message, link: str, now: float) -> list[Action]:
        mtype, src, ts = msg.get("t"), msg.get("src"), _hex(msg.get("ts"))
        if not isinstance(mtype, str) or not isinstance(src, str):
            self.dropped["malformed"] += 1
            return self._limited("error", "malformed", "process_clustermsg: missing from/ts/type", now)
        if not ts:
            self.dropped["malformed"] += 1
            return []  # Heartbeat drops these silently
        if src == self.me:
            return []  # our own broadcast coming back
        peer = self.peers.get(src)
        if peer is None:
            self.dropped["unknown_node"] += 1
            shown = src if src.isprintable() and len(src) < 100 else repr(src[:100])
            return self._limited(
                "error", "badnode", f"process_status_message: bad node [{shown}] in message", now
            )
        out: list[Action] = []
        gen = _hex(msg.get("hg")) or 0
        seq = _hex(msg.get("seq"))
        # An older generation; or, while no tracking is under way (after our own restart, or after the
        # peer was declared dead), a seq of its generation that was accepted before: 3.0.6 takes those.
        replayed = (
            gen == peer.generation
            and peer.last_seq is None
            and seq is not None
            and seq <= max(peer.saved_seq, peer.high_seq)
        )
        if gen < peer.generation or replayed:
            self.dropped["replay"] += 1
            text = (f"should_drop_message: attempted replay attack [{src}]? [gen = {gen}, curgen = "
                    f"{peer.generation}]" + (f" [seq = {seq}, accepted up to {peer.saved_seq}]" if replayed else ""))  # fmt: skip
            return self._limited("warning", ("replay", src), text, now)
        if mtype == "status":
            if gen > peer.generation and peer.generation:
                out.append(Log("info", f"Heartbeat restart on node {src}"))
                out.append(PeerRestarted(src))
                peer.reset_tracking()
                peer.last_status_ts = peer.last_status_seq = 0
            elif gen == peer.generation and gen and peer.status == ST_DEAD:
                out.append(Log("crit", f"Cluster node {src} returning after partition."))
                out.append(PartitionHealed(src))
            if gen != peer.generation:
                peer.saved_seq = peer.high_seq = 0
                out.append(RememberPeer(src, gen, 0))
            peer.generation = gen
        out += self._refresh_link(peer, link, now)
        uuid = msg.get("srcuuid")
        if isinstance(uuid, bytes) and len(uuid) == 16 and uuid != peer.uuid:
            if peer.uuid is not None:
                out.append(Log("info", f"node {src} changed its uuid to {uuid.hex()}"))
            peer.uuid = uuid
        peer.heard = True

        to_us = msg.get("dest") in (None, self.me) and msg.get("destuuid") in (None, self.uuid)
        if mtype.startswith("NS_"):
            if to_us:
                out += self._on_control(mtype, msg, peer, now)
            return out + self._check_comm_up(now)

        if not seq or seq <= 0:
            self.dropped["malformed"] += 1
            return [*out, *self._limited("error", "badseq", "should_drop_message: bad sequence number", now)]
        verdict, actions = self._track(peer, seq, now)
        out += actions
        if verdict == "keep":
            peer.high_seq = max(peer.high_seq, seq)
        if verdict != "keep" or not to_us:
            return out + self._check_comm_up(now)
        if mtype == "status":
            out += self._on_status(msg, peer, seq, ts, now)
        else:
            out.append(RememberPeer(src, peer.generation, seq))
            if mtype == "reqnodes":
                out += self._reply_repnodes(src, now)
            elif mtype == "repnodes":
                pass  # we never send reqnodes: comm-up does not wait for it (spec 7.3)
            elif mtype in self.handlers:
                for reply in self.handlers[mtype](msg, src, now):
                    try:
                        out += self.send(reply, now)
                    except wire.WireError as exc:  # an answer that cannot be encoded: not sent
                        out += self._limited(
                            "error", "reply", f"cannot answer {mtype} from {src}: {exc}", now
                        )
            else:
                out.append(Delivered(src, msg))
        return out + self._check_comm_up(now)

    # ---------------------------------------------------------------------------------------
    # sending

    def send(self, msg: Message, now: float) -> list[Action]:
        """Add the standard fields (spec 5), sequence, encode, remember for retransmission."""
        msg = msg.copy()
        for name in ("src", "srcuuid", "seq", "hg", "ts", "ld", "ttl", "auth"):
            msg.remove(name)
        control = str(msg.get("t", "")).startswith("NS_")
        msg.add("src", self.me).add("srcuuid", self.uuid)
        if not control:
            self.seq += 1
            msg.add("seq", format(self.seq, "x"))
        msg.add("hg", format(self.generation, "x")).add("ts", format(int(self.wall()), "x"))
        if not control:
            msg.add("ld", self.loadavg())
        msg.add("ttl", self.ttl)
        try:
            msg = wire.sign(msg, self.authkeys, classic_auth=self.cfg.msgfmt == "classic")
            data = wire.encode(msg, self.authkeys, classic_auth=self.cfg.msgfmt == "classic")
        except wire.WireError:
            if not control:
                self.seq -= 1  # never leave a hole the peers would ask us to fill
            raise
        if not control:
            self.history.append(_Sent(self.seq, data, msg))
        return [Transmit(data, msg)]

    def send_status(self, now: float) -> list[Action]:
        dt = self.cfg.deadtime_ms
        if self.started_at is not None and now - self.started_at < STARTUP_DT_BOOST_S:
            dt += STARTUP_DT_BOOST_MS
        return self.send(Message.of(t="status", st=self.status, dt=format(dt, "x"), protocol="1"), now)

    # ---------------------------------------------------------------------------------------
    # queries (cl_status, status --json)

    def node_status(self, name: str) -> str | None:
        name = name.lower()
        if name == self.me:
            return self.status
        peer = self.peers.get(name)
        return peer.status if peer else None

    def link_status(self, node: str, link: str) -> str | None:
        node = node.lower()
        if node == self.me:
            return (
                (LINK_UP if self.started_at is not None else LINK_DEAD) if link in self.link_names else None
            )
        peer = self.peers.get(node)
        if peer is None or link not in peer.links:
            return None
        return peer.links[link].status

    def snapshot(self, now: float) -> dict:
        nodes = []
        for name in self.cfg.nodes:
            peer = self.peers.get(name)
            entry = {
                "name": name,
                "type": "normal",
                "status": self.node_status(name),
                "links": {link: self.link_status(name, link) for link in self.link_names},
            }
            if peer is not None:
                entry["uuid"] = peer.uuid.hex() if peer.uuid else None
                entry["generation"] = peer.generation
                entry["last_status_ms_ago"] = (
                    int((now - peer.last_status_at) * 1000) if peer.last_status_at is not None else None
                )
                entry["deadtime_ms"] = peer.dead_ms
                entry["missing"] = len(peer.missing)
            nodes.append(entry)
        return {
            "node": self.me,
            "status": self.status,
            "comm_up": self.comm_up,
            "generation": self.generation,
            "seq": self.seq,
            "nodes": nodes,
            "dropped": dict(self.dropped),
            "log_lines_suppressed": self.limiter.suppressed_total,
        }

    # ---------------------------------------------------------------------------------------
    # internals

    def _refresh_link(self, peer: Peer, link: str, now: float) -> list[Action]:
        state = peer.links.get(link)
        if state is None:
            return []
        state.last_heard = now
        if state.status == LINK_UP:
            return []
        state.status = LINK_UP
        return [Log("info", f"Link {peer.name}:{link} up."), LinkStatusChanged(peer.name, link, LINK_UP)]

    def _track(self, peer: Peer, seq: int, now: float) -> tuple[str, list[Action]]:
        """Spec 6.2: ("keep" | "drop", actions)."""
        out: list[Action] = []
        if peer.last_seq is None or seq == peer.last_seq + 1:
            peer.last_seq = seq
            if seq % ACK_DIVISOR == peer.ack_trigger and not peer.missing:
                out += self.send(Message.of(t="NS_ackmsg", dest=peer.name, ackseq=format(seq, "x")), now)
            return "keep", out
        if seq == peer.last_seq:
            return "drop", out  # duplicate
        if seq > peer.last_seq:
            lost = seq - peer.last_seq - 1
            out += self._limited("error", ("lost", peer.name),
                                 f"{lost} lost packet(s) for [{peer.name}] [{peer.last_seq}:{seq}]", now)  # fmt: skip
            if lost > SEQ_GAP_RESET:
                out += self._limited("error", ("lost", peer.name), "lost a lot of packets!", now)
                peer.missing.clear()
            else:
                delay_ms = max(MIN_REXMIT_DELAY_MS, self.cfg.max_rexmit_delay_ms)

                def due() -> float:
                    return now + self.rng.uniform(MIN_REXMIT_DELAY_MS, delay_ms) / 1000

                if seqtrack.add_missing(peer.missing, peer.last_seq + 1, seq - 1, due):
                    self.dropped["missing_overflow"] += 1
            peer.last_seq = seq
            return "keep", out
        if seq in peer.missing:  # a late packet we were waiting for
            del peer.missing[seq]
            if not peer.missing:
                out.append(Log("info", f"No pkts missing from {peer.name}!"))
            return "keep", out
        return "drop", out  # old duplicate

    def _on_status(self, msg: Message, peer: Peer, seq: int, ts: int, now: float) -> list[Action]:
        out: list[Action] = []
        if ts < peer.last_status_ts and seq < peer.last_status_seq:
            return out  # an older status arriving late
        peer.last_status_ts, peer.last_status_seq = ts, seq
        if peer.last_status_at is not None and peer.status != ST_DEAD and not peer.late_warned:
            interval = int((now - peer.last_status_at) * 1000)
            if interval > self.cfg.deadtime_ms:
                out.append(
                    Log("crit", f"Late heartbeat: Node {peer.name}: interval {interval} ms (> deadtime)")
                )
            elif interval > self.cfg.warntime_ms:
                out.append(Log("warning", f"Late heartbeat: Node {peer.name}: interval {interval} ms"))
        peer.last_status_at = now
        peer.late_warned = False
        peer.dead_ms = min(_hex(msg.get("dt")) or self.cfg.deadtime_ms, MAX_DT_MS)
        new = msg.get("st", "")
        if not isinstance(new, str) or len(new) > MAX_STATUS_LEN or not new.isprintable():
            self.dropped["malformed"] += 1
            return [*out, *self._limited("error", "badstatus", f"bad status field from {peer.name}", now)]
        if new and new != peer.status:
            old, peer.status = peer.status, new
            out.append(Log("info", f"Status update for node {peer.name}: status {new}"))
            out.append(NodeStatusChanged(peer.name, old, new))
        return out

    def _check_peer_timeouts(self, peer: Peer, now: float) -> list[Action]:
        out: list[Action] = []
        dead_s = self._dead_after(peer)
        for name, link in peer.links.items():
            if link.status == LINK_UP and now - link.last_heard > peer.dead_ms / 1000:
                link.status = LINK_DEAD
                out += [
                    Log("info", f"Link {peer.name}:{name} dead."),
                    LinkStatusChanged(peer.name, name, LINK_DEAD),
                ]
        if peer.status == ST_DEAD:
            return out
        since = peer.last_status_at if peer.last_status_at is not None else self.started_at
        silence = now - since
        if silence > dead_s:
            old, peer.status = peer.status, ST_DEAD
            peer.reset_tracking()
            out += [Log("warning", f"node {peer.name}: is dead"), NodeStatusChanged(peer.name, old, ST_DEAD)]
        elif (
            peer.last_status_at is not None and not peer.late_warned and silence * 1000 > self.cfg.warntime_ms
        ):
            peer.late_warned = True
            out.append(Log("warning", f"Late heartbeat: Node {peer.name}: interval {int(silence * 1000)} ms"))
        return out

    def _request_missing(self, peer: Peer, now: float) -> list[Action]:
        if not peer.missing or peer.status not in (ST_UP, ST_ACTIVE):
            return []
        interval = self.cfg.max_rexmit_delay_ms / 1000
        if peer.last_rexmit_req is not None and 0 <= now - peer.last_rexmit_req < interval:
            return []  # 3.0.6 check_rexmit_reqs(): one round per max_rexmit_delay per node
        out: list[Action] = []
        ranges = seqtrack.due_ranges(peer.missing, now)
        for first, last in ranges:
            request = Message.of(t="NS_rexmit", dest=peer.name, firstseq=str(first), lastseq=str(last))
            out += self.send(request, now)
            for seq in range(first, last + 1):
                peer.missing[seq] = now + interval
        if ranges:
            peer.last_rexmit_req = now
        return out

    def _on_control(self, mtype: str, msg: Message, peer: Peer, now: float) -> list[Action]:
        if mtype == "NS_ackmsg":
            peer.acked_seq = max(peer.acked_seq, _hex(msg.get("ackseq")) or 0)
            return []
        if mtype == "NS_rexmit":
            return self._answer_rexmit(msg, peer.name, now)
        if mtype == "NS_nak_rexmit":
            seq = _hex(msg.get("firstseq"))
            if not seq:
                self.dropped["malformed"] += 1
                return self._limited(
                    "error", ("nak", peer.name), "should_drop_message: bad nak seq number", now
                )
            peer.missing.pop(seq, None)
            return self._limited("error", ("nak", peer.name),
                                 f"Irretrievably lost packet: node {peer.name} seq {seq}", now)  # fmt: skip
        return []

    def _answer_rexmit(self, msg: Message, requester: str, now: float) -> list[Action]:
        first, last = _dec(msg.get("firstseq")), _dec(msg.get("lastseq"))
        if first is None or last is None or first <= 0 or last < first:
            self.dropped["malformed"] += 1
            return self._limited("error", ("rexmit", requester), "Invalid rexmit seqnos", now)
        out: list[Action] = []
        by_seq = {sent.seq: sent for sent in self.history}
        lowest = self.history[0].seq if self.history else self.seq + 1
        for seq in range(first, min(last, first + MAX_REXMIT_PER_REQUEST - 1) + 1):
            sent = by_seq.get(seq)
            if seq > self.seq:
                out += self._limited("warning", ("rexmit", requester),
                                     f"Rexmit of seq {seq} requested by {requester}: above our highest "
                                     f"({self.seq})", now)  # fmt: skip
                break  # every later one is above too
            if (
                sent is not None
                and sent.last_rexmit is not None
                and now - sent.last_rexmit < REXMIT_MIN_GAP_S
            ):
                continue  # re-sent moments ago
            if not self.rexmit_budget.take(requester, now):
                self.dropped["rexmit_over_budget"] += 1
                break  # answered enough for now: a replayed or forged flood of requests stops here
            if sent is None:
                reason = "seqno too low" if seq < lowest else "seqno not found"
                out += self._limited("error", ("rexmit", requester),
                                     f"Cannot rexmit pkt {seq} for {requester}: {reason}", now)  # fmt: skip
                nak = Message.of(t="NS_nak_rexmit", firstseq=format(seq, "x"), dest=requester, info=reason)
                out += self.send(nak, now)
            else:
                sent.last_rexmit = now
                out.append(Transmit(sent.data, sent.msg))  # the very same bytes: same seq, ts and auth
        return out

    def _reply_repnodes(self, requester: str, now: float) -> list[Action]:
        # every node, the requester included: it deletes nodes missing from this list (spec 7.3)
        reply = Message.of(dest=requester, t="repnodes", nodelist="".join(f"{n} " for n in self.cfg.nodes),
                           delnodelist=" ")  # fmt: skip
        return self.send(reply, now)

    def _answer_cstatus(self, msg: Message, src: str, now: float) -> list[Message]:
        # no API clients run here: every client is offline
        return [Message.of(t="respond-cstatus", dest=src, result="OK", cn=_word(msg.get("cn"), "unknown"),
                           to_id=_word(msg.get("from_id"), "0"), cs="offline")]  # fmt: skip

    def _check_comm_up(self, now: float) -> list[Action]:
        if self.comm_up or self.started_at is None:
            return []
        if not all(p.heard or p.status == ST_DEAD for p in self.peers.values()):
            return []
        self.comm_up = True
        self.status = ST_ACTIVE
        out: list[Action] = [Log("info", "Comm_now_up(): updating status to active"),
                             Log("info", f"Local status now set to: '{ST_ACTIVE}'")]  # fmt: skip
        out += self.send_status(now)
        out.append(CommUp())
        return out
