"""The I/O side of the split-brain guard: the ICMP socket of the ping nodes, the fence thread, and the
routing of guard.py's actions to the resource manager. The daemon creates one, registers its socket,
and hands it the membership events; every decision is in pingnodes.py and guard.py (pure).
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from . import fencing, rscmgr
from .guard import Cleared, Guard, Reboot
from .heal import Reannounce, Relinquish
from .icmp import IcmpSocket
from .membership import Log
from .pingnodes import Echo, PingNodes, PingStatusChanged
from .uplink import GiveUp


@dataclass(frozen=True)
class ReannounceJob:
    """A worker job: gratuitous ARP again for the addresses of these groups that are configured here."""

    groups: tuple[str, ...]


def _resolve(host: str) -> str | None:
    try:
        return socket.gethostbyname(host)
    except OSError:
        return None


def guarded(node: str, ha_cf, agent_conf) -> bool:
    """Whether a takeover from a silent peer must wait for the guard (fencing or ping nodes configured)."""
    configured = fencing.fence_method(ha_cf, agent_conf.fence_command, node) is not None
    return configured or bool(ha_cf.ping or ha_cf.ping_groups)


def node_order(ha_cf) -> list[str]:
    """Cluster and ping nodes in ha.cf order (3.0.6's node table; cl_status lists it reversed)."""
    names: list[str] = []
    for directive, value, _line in ha_cf.directives:
        if directive in ("node", "ping", "ping_group"):
            name = value.split()[0].lower()
            if name not in names:
                names.append(name)
    return names


class SplitBrainShell:
    def __init__(self, node: str, ha_cf, agent_conf, mgr, *, log: Callable[[str, str], None],
                 rsc: Callable[[list], None], jobs, wake: Callable[[], None]):  # fmt: skip
        """`mgr`: the resource manager or None (membership only); `rsc(actions)`: the daemon's handling of
        rscmgr actions (Send goes out through membership); `jobs`: the resource worker's queue."""
        self.node, self.ha_cf, self.log, self.rsc, self.jobs, self.wake = node, ha_cf, log, rsc, jobs, wake
        self.mgr = mgr
        self.pings = PingNodes(ha_cf, resolve=_resolve)
        self.icmp: IcmpSocket | None = None
        self.fence_results: queue.SimpleQueue = queue.SimpleQueue()
        self.guard: Guard | None = None
        if mgr is not None:
            peer = next(n for n in ha_cf.nodes if n != node)
            method = fencing.fence_method(ha_cf, agent_conf.fence_command, node)
            self.guard = Guard(node, peer, ha_cf, mgr, ping_nodes=len(self.pings.nodes), fence=method,
                               reboot=agent_conf.reboot_on_stop_failure)  # fmt: skip

    def failback_veto(self) -> str | None:
        return self.guard.uplink.failback_veto() if self.guard is not None else None

    def reconfigure(self, ha_cf) -> None:
        """A reload: keepalive and auto_failback may change live (ping nodes and fencing may not)."""
        self.pings.interval = ha_cf.keepalive_ms / 1000
        if self.guard is not None:
            self.guard.heal.mode = ha_cf.auto_failback
            self.guard.uplink.settle_s = ha_cf.keepalive_ms / 1000
            self.guard.uplink.auto_failback = ha_cf.auto_failback == "on"

    # -- start / stop --------------------------------------------------------------------------
    def open(self, now: float):
        """Open the ICMP socket when ping nodes are configured; the socket to watch, or None."""
        if self.guard is not None and self.guard.fencer.configured:
            method = self.guard.fencer.method
            self.log("info", f"Fencing a silent peer with [{method.description}] ({method.origin})")
        if not self.pings.configured:
            return None
        for name in self.pings.unresolved():
            self.log("error", f"ping node {name}: cannot resolve its address; it will stay dead")
        try:
            self.icmp = IcmpSocket(self.node)
        except OSError as exc:
            self.log("error", f"ping nodes: cannot open a raw ICMP socket ({exc.strerror or exc}; CAP_NET_RAW "
                              "is needed): they stay dead, and this node will not take over from a silent peer")  # fmt: skip
            return None
        self._route(self.pings.start(now), now)
        return self.icmp

    def close(self) -> None:
        if self.icmp is not None:
            self.icmp.close()

    # -- events from the daemon ----------------------------------------------------------------
    def icmp_readable(self, now: float) -> None:
        for address, _seq in self.icmp.receive():
            self._route(self.pings.reply(address, now), now)

    def comm_up(self, now: float) -> None:
        if self.guard is not None:
            self._route(self.guard.comm_up(now), now)

    def peer_status(self, old: str, new: str, now: float) -> None:
        if self.guard is not None:
            self._route(self.guard.peer_status(old, new, now), now)

    def healed(self, now: float) -> None:
        if self.guard is not None:
            self._route(self.guard.healed(now), now)

    def peer_restarted(self) -> None:
        if self.guard is not None:
            self.guard.peer_restarted()

    def message(self, fields: dict[str, str], now: float) -> None:
        if self.guard is not None:
            self._route(self.guard.message(fields, now), now)

    def takeover_requested(self, now: float) -> None:
        self._route(self.guard.takeover_requested(now), now)

    def stop_failed(self, keys, now: float) -> None:
        if self.guard is not None:
            self._route(self.guard.stop_failed(keys), now)

    def tick(self, now: float) -> None:
        while not self.fence_results.empty():
            purpose, ok, rc, detail = self.fence_results.get()
            self._route(self.guard.fence_done(purpose, ok, rc, detail, now), now)
        self._route(self.pings.tick(now), now)
        if self.guard is not None:
            self._route(self.guard.tick(now), now)

    def next_wakeup(self, now: float) -> float:
        wake = self.pings.next_wakeup(now)
        if self.guard is not None:
            wake = min(wake, self.guard.next_wakeup(now))
        return wake

    # -- queries ------------------------------------------------------------------------------
    def blocked(self) -> str | None:
        return self.guard.blocked() if self.guard is not None else None

    def snapshot(self) -> dict:
        out = {"ping_nodes": self.pings.snapshot()}
        if self.guard is not None:
            out.update(self.guard.snapshot())
        return out

    # -- actions ------------------------------------------------------------------------------
    def _route(self, actions, now: float) -> None:
        for action in actions:
            if isinstance(action, Echo):
                error = self.icmp.send(action.address, action.seq) if self.icmp is not None else None
                if error:
                    self.log("warning", error)
            elif isinstance(action, Log):
                self.log(action.level, action.text)
            elif isinstance(action, PingStatusChanged):
                if self.guard is not None:
                    self._route(self.guard.ping_count(self.pings.reachable(), now), now)
            elif isinstance(action, rscmgr.Send):
                self.rsc([action])
            elif isinstance(action, Relinquish):
                self.rsc(self.mgr.relinquish(action.rset, action.why, action.peer_holds, now))
            elif isinstance(action, Reannounce):
                groups = self._keys(action.rset)
                if groups:
                    self.jobs.put(ReannounceJob(tuple(groups)))
            elif isinstance(action, GiveUp):
                self.log("info", f"Giving up {action.which} resources: {action.why}")
                self.rsc([a for a in self.mgr.standby(action.which, now) if not isinstance(a, rscmgr.Reply)])
            elif isinstance(action, Cleared):
                self.rsc(self.mgr.takeover_cleared(action.result, now))
            elif isinstance(action, fencing.RunFence):
                self._run_fence(action)
            elif isinstance(action, Reboot):
                self.rsc([action])  # the daemon itself stops and reboots

    def _keys(self, rset: int) -> list[str]:
        mine = rset & rscmgr.LOCAL
        theirs = rset & rscmgr.FOREIGN
        return [g.key for g in self.mgr.groups if (g.node.lower() == self.node and mine)
                or (g.node.lower() != self.node and theirs)]  # fmt: skip

    def _run_fence(self, action: fencing.RunFence) -> None:
        from .resources import run_command

        def run() -> None:
            result = run_command(action.argv, fencing.FENCE_TIMEOUT_S)
            detail = result.describe()
            self.fence_results.put((action.purpose, result.returncode == 0, result.returncode, detail))
            with contextlib.suppress(OSError):
                self.wake()

        threading.Thread(target=run, name=f"hbagent-fence-{action.purpose}", daemon=True).start()
