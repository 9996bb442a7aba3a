"""Ping nodes (ha.cf `ping`, `ping_group`, `deadping`) tracked as Heartbeat 3.0.6 does: a pure state machine.

3.0.6's ping plugins send one ICMP echo to every ping address with each status message, i.e. every
keepalive. A ping node is a node of type `ping` in `cl_status listnodes`, with one link named after it:
its status is `init` until the first reply, `ping` while replies come, `dead` once no reply came for
`deadping` (default: deadtime), counted from the start when it never answered. A `ping_group` is one
ping node, alive while any of its addresses answers.

Events in (`start`, `tick`, `reply`), actions out (`Echo` to send, status changes, log lines); no socket
here: icmp.py sends and receives, the daemon carries the actions (model: membership.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .membership import Log

ST_INIT, ST_PING, ST_DEAD = "init", "ping", "dead"
LINK_UP, LINK_DEAD = "up", "dead"


@dataclass(frozen=True)
class Echo:
    """Send one ICMP echo request to this address, with this sequence number."""

    address: str
    seq: int


@dataclass(frozen=True)
class PingStatusChanged:
    node: str
    old: str
    new: str


@dataclass
class PingNode:
    name: str
    kind: str  # 'ping' | 'ping_group'
    addresses: list[str]
    status: str = ST_INIT
    last_reply: float | None = None

    @property
    def link(self) -> str:
        return LINK_UP if self.status == ST_PING else LINK_DEAD


class PingNodes:
    def __init__(self, ha_cf, resolve: Callable[[str], str | None] = lambda host: host):
        """`resolve` turns a host name into an IPv4 address (None: unknown, the node never answers)."""
        self.interval = ha_cf.keepalive_ms / 1000
        self.deadping = ha_cf.deadping_ms / 1000
        self.nodes: list[PingNode] = []
        for name, kind, hosts in self._declared(ha_cf):
            addresses = [a for a in (resolve(h) for h in hosts) if a]
            self.nodes.append(PingNode(name, kind, addresses))
        self.by_address: dict[str, list[PingNode]] = {}
        for node in self.nodes:
            for address in node.addresses:
                self.by_address.setdefault(address, []).append(node)
        self.started_at: float | None = None
        self.next_round = 0.0
        self.seq = 0

    @staticmethod
    def _declared(ha_cf) -> list[tuple[str, str, list[str]]]:
        groups = {g.name: g for g in ha_cf.ping_groups}
        found = [(host.lower(), "ping", [host]) for host in ha_cf.ping]
        found += [(g.name, "ping_group", list(g.hosts)) for g in groups.values()]
        return found

    @property
    def configured(self) -> bool:
        return bool(self.nodes)

    def unresolved(self) -> list[str]:
        return [n.name for n in self.nodes if not n.addresses]

    # -- events ----------------------------------------------------------------------------
    def start(self, now: float) -> list:
        self.started_at = now
        self.next_round = now
        return self.tick(now)

    def tick(self, now: float) -> list:
        if self.started_at is None or not self.nodes:
            return []
        out: list = []
        if now >= self.next_round:
            self.seq = (self.seq + 1) & 0xFFFF
            out += [Echo(address, self.seq) for address in self.by_address]
            self.next_round += self.interval
            if self.next_round <= now:  # fell behind: do not burst
                self.next_round = now + self.interval
        for node in self.nodes:
            since = node.last_reply if node.last_reply is not None else self.started_at
            if node.status != ST_DEAD and now - since > self.deadping:
                out += self._set(node, ST_DEAD)
        return out

    def reply(self, address: str, now: float) -> list:
        """An echo reply of ours came back from `address`."""
        out: list = []
        for node in self.by_address.get(address, []):
            node.last_reply = now
            if node.status != ST_PING:
                out += self._set(node, ST_PING)
        return out

    def next_wakeup(self, now: float) -> float:
        if self.started_at is None or not self.nodes:
            return now + 3600
        wake = self.next_round
        for node in self.nodes:
            if node.status != ST_DEAD:
                since = node.last_reply if node.last_reply is not None else self.started_at
                wake = min(wake, since + self.deadping + 0.001)
        return max(wake, now)

    # -- queries -----------------------------------------------------------------------------
    def reachable(self) -> int:
        """Ping nodes answering now (ipfail's count)."""
        return sum(1 for node in self.nodes if node.status == ST_PING)

    def status(self, name: str) -> str | None:
        node = self._node(name)
        return node.status if node else None

    def snapshot(self) -> list[dict]:
        """cl_status entries: type `ping`, one link named after the node."""
        return [{"name": n.name, "type": "ping", "status": n.status, "links": {n.name: n.link},
                 "addresses": list(n.addresses), "kind": n.kind} for n in self.nodes]  # fmt: skip

    def _node(self, name: str) -> PingNode | None:
        return next((n for n in self.nodes if n.name == name.lower()), None)

    def _set(self, node: PingNode, new: str) -> list:
        old, node.status = node.status, new
        if new == ST_PING:
            lines = [Log("info", f"Link {node.name}:{node.name} up."),
                     Log("info", f"Status update for node {node.name}: status ping")]  # fmt: skip
        else:
            lines = [Log("warning", f"node {node.name}: is dead")]
            if old == ST_PING:
                lines.append(Log("info", f"Link {node.name}:{node.name} dead."))
        return [*lines, PingStatusChanged(node.name, old, new)]
