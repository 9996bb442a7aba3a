"""Drivers for the pure resource manager: one node against a scripted peer, or two nodes on a wire.

Resource actions are executed by a fake executor that records them and completes them at once
(or on demand), so a test sees the exact order of messages and resource actions.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from hbagent.config import Resource, ResourceGroup
from hbagent.rscmgr import Acquire, Log, Release, Reply, ResourceManager, Send, ShutdownDone, Unannounce


def group(node: str, *words: str) -> ResourceGroup:
    resources = []
    for word in words:
        name, *args = word.split("::")
        resources.append(Resource(word, name, args))
    return ResourceGroup(node, words[0], resources)


# spec §9: haresources on both nodes `web1 10.99.0.50/24` and `web2 10.99.0.51/24`
SPEC_GROUPS = [group("web1", "10.99.0.50/24"), group("web2", "10.99.0.51/24")]
# the reference lab: everything belongs to web1
LAB_GROUPS = [group("web1", "IPaddr::10.213.10.50/24/eth0", "apache2")]


class FakeClock:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def msg(*pairs: str) -> list[tuple[str, str]]:
    """msg('t=resource', 'rsc_hold=all') -> [('t', 'resource'), ('rsc_hold', 'all')]"""
    return [tuple(p.split("=", 1)) for p in pairs]


def line(send: Send) -> str:
    """A sent message as the spec writes it: `resource rsc_hold=all rtype=full isstable=1`."""
    return " ".join([send.type] + [f"{k}={v}" for k, v in send.fields[1:]])


@dataclass
class Node:
    """One manager plus a fake executor."""

    mgr: ResourceManager
    auto: bool = True  # complete resource actions at once
    fail_start: set[str] = field(default_factory=set)
    fail_stop: set[str] = field(default_factory=set)
    trace: list = field(
        default_factory=list
    )  # ('send', line) | ('acquire'|'release', keys, part) | ('unannounce', keys) …
    outbox: deque = field(default_factory=deque)
    logs: list[Log] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    shutdown: list[ShutdownDone] = field(default_factory=list)
    pending: Acquire | Release | None = None
    running: dict[str, set[str]] = field(default_factory=dict)  # group key -> parts running

    @property
    def name(self) -> str:
        return self.mgr.me

    def handle(self, actions) -> None:
        for action in actions:
            if isinstance(action, Send):
                self.trace.append(("send", line(action)))
                self.outbox.append(action)
            elif isinstance(action, Acquire | Release):
                kind = "acquire" if isinstance(action, Acquire) else "release"
                self.trace.append((kind, action.groups, action.part))
                assert self.pending is None, "two resource actions outstanding"
                self.pending = action
                if self.auto:
                    self.complete()
            elif isinstance(action, Unannounce):
                self.trace.append(("unannounce", action.groups))
            elif isinstance(action, Log):
                self.logs.append(action)
            elif isinstance(action, Reply):
                self.replies.append(action)
            elif isinstance(action, ShutdownDone):
                self.trace.append(("shutdown_done", action.ok))
                self.shutdown.append(action)

    def complete(self) -> None:
        action, self.pending = self.pending, None
        assert action is not None, "no resource action outstanding"
        parts = {"all": {"ip", "non_ip"}, "ip": {"ip"}, "non_ip": {"non_ip"}}[action.part]
        if isinstance(action, Acquire):
            failed = [k for k in action.groups if k in self.fail_start]
            for key in action.groups:
                if key not in failed:
                    self.running.setdefault(key, set()).update(parts)
            self.handle(self.mgr.acquire_done(action.groups, not failed, failed))
        else:
            failed = [k for k in action.groups if k in self.fail_stop]
            for key in action.groups:
                if key not in failed:
                    self.running.get(key, set()).difference_update(parts)
            self.handle(self.mgr.release_done(action.groups, not failed, failed))

    def sends(self) -> list[str]:
        return [t[1] for t in self.trace if t[0] == "send"]

    def resource_ops(self) -> list[tuple]:
        return [t for t in self.trace if t[0] in ("acquire", "release")]

    def errors(self) -> list[str]:
        return [entry.text for entry in self.logs if entry.level in ("error", "critical")]

    def clear(self) -> None:
        self.trace.clear()
        self.outbox.clear()


def new_node(me, groups, auto_failback="on", clock=None, **kw) -> Node:
    clock = clock or FakeClock()
    mbb = kw.pop("mbb_groups", ())
    return Node(
        ResourceManager(me, ["web1", "web2"], groups, auto_failback, mbb_groups=mbb, clock=clock), **kw
    )


class Cluster:
    """Two managers on a lossless FIFO wire; membership events are given by the test."""

    def __init__(self, groups, auto_failback="on", mbb_groups=(), auto=True):
        self.clock = FakeClock()
        self.groups = groups
        self.nodes = {
            n: new_node(n, groups, auto_failback, self.clock, mbb_groups=mbb_groups, auto=auto)
            for n in ("web1", "web2")
        }
        self.alive = dict.fromkeys(self.nodes, False)
        self.wire: deque[tuple[str, Send]] = deque()
        self.timeline: list[tuple[str, tuple]] = []  # (node, trace entry) in global order

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    @staticmethod
    def peer_of(name: str) -> str:
        return "web2" if name == "web1" else "web1"

    def act(self, name: str, call) -> None:
        """Run `call(mgr)` on a node; record what it did and put its messages on the wire."""
        node = self.nodes[name]
        before = len(node.trace)
        node.handle(call(node.mgr))
        self.timeline.extend((name, entry) for entry in node.trace[before:])
        while node.outbox:
            self.wire.append((name, node.outbox.popleft()))

    def complete(self, name: str) -> None:
        self.act(name, lambda m: [])  # no event: just bookkeeping below
        node = self.nodes[name]
        before = len(node.trace)
        node.complete()
        self.timeline.extend((name, entry) for entry in node.trace[before:])
        while node.outbox:
            self.wire.append((name, node.outbox.popleft()))

    def start(self, name: str) -> None:
        """A node comes up and hears the other (if alive); comm-up follows at once."""
        self.alive[name] = True
        peer = self.peer_of(name)
        if self.alive[peer]:
            self.act(name, lambda m: m.peer_status(peer, "active"))
            self.act(peer, lambda m: m.peer_status(name, "up"))
        else:  # initdead expired: "node X: is dead" comes before comm-up (§9.1)
            self.act(name, lambda m: m.peer_dead(peer))
        self.act(name, lambda m: m.comm_up())

    def crash(self, name: str) -> None:
        """kill -9: the node stops talking, its resources stay where they are."""
        self.alive[name] = False
        self.wire = deque(item for item in self.wire if item[0] != name)
        self.act(self.peer_of(name), lambda m: m.peer_dead(name))

    def gone(self, name: str) -> None:
        """After a graceful stop: the peer's membership declares it dead (deadtime)."""
        self.alive[name] = False
        self.act(self.peer_of(name), lambda m: m.peer_dead(name))

    def replace(self, name: str, auto_failback="on", mbb_groups=()) -> None:
        """A fresh process on a node (after crash or stop); resources left behind stay running."""
        old = self.nodes[name]
        self.nodes[name] = new_node(
            name, self.groups, auto_failback, self.clock, mbb_groups=mbb_groups, auto=old.auto
        )
        self.nodes[name].running = old.running

    def deliver(self, limit: int = 1000) -> None:
        """Deliver queued messages in wire order until the wire is quiet."""
        for _ in range(limit):
            if not self.wire:
                return
            src, send = self.wire.popleft()
            dst = self.peer_of(src)
            if self.alive[dst]:
                self.act(dst, lambda m, s=send, f=src: m.message(f, s.fields))
        raise AssertionError("messages kept flowing")

    def tick(self, seconds: float) -> None:
        self.clock.advance(seconds)
        for name in self.nodes:
            if self.alive[name]:
                self.act(name, lambda m: m.tick())

    def sends(self) -> list[tuple[str, str]]:
        return [(n, e[1]) for n, e in self.timeline if e[0] == "send"]

    def mark(self) -> int:
        return len(self.timeline)

    def since(self, mark: int) -> list[tuple[str, tuple]]:
        return self.timeline[mark:]
