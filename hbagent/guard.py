"""The split-brain guard: one pure facade over the three decisions that keep one holder per address.

* heal.py      two nodes that both hold a set after a partition: who keeps it, who releases;
* uplink.py    ping nodes (ipfail): the node that reaches fewer hands over; a blind node never takes over;
* fencing.py   STONITH / fence_command before taking resources from a silent peer.

The daemon feeds membership, ping and resource events in and carries the actions out; the resource
manager (rscmgr) is only read (`holding()`), and asked through actions:
    Send(fields)            a cluster message (rscmgr.Send)
    Log(level, text)        (membership.Log)
    Relinquish(rset, why)   mgr.relinquish(...)                      (heal.Relinquish)
    Reannounce(rset)        gratuitous ARP again for that set's addresses (heal.Reannounce)
    GiveUp(which, why)      mgr.standby(which)                        (uplink.GiveUp)
    Cleared(result)         mgr.takeover_cleared(result): take over from the silent peer now
    RunFence(argv, purpose) run off the loop, report with fence_done() (fencing.RunFence)
    Reboot(argv)            a resource would not stop and `stop_failure reboot` is set
"""

from __future__ import annotations

from dataclasses import dataclass

from .fencing import Fenced, FenceMethod, Fencer
from .heal import HEAL_TYPE, HealArbiter
from .membership import Log
from .uplink import Uplink

UPLINK_TYPES = ("num_ping_nodes", "you_are_dead", "abort_giveup")


@dataclass(frozen=True)
class Cleared:
    """Take over from the silent peer now: 'OK' (fenced) or 'n_stnth' (nothing to fence with)."""

    result: str


@dataclass(frozen=True)
class Reboot:
    argv: tuple[str, ...]
    why: str


class Guard:
    def __init__(self, me: str, peer: str, ha_cf, resources, *, ping_nodes: int = 0,
                 fence: FenceMethod | None = None, reboot: list[str] | None = None):  # fmt: skip
        """`resources`: the resource manager (only `holding()` is read); `ping_nodes`: how many are
        configured; `fence`: fencing.fence_method(...); `reboot`: argv for a STOP failure, or None."""
        self.me, self.peer = me, peer
        self.resources = resources
        self.heal = HealArbiter(me, peer, ha_cf.auto_failback)
        self.uplink = Uplink(me, peer, ping_nodes, ha_cf.keepalive_ms / 1000, ha_cf.auto_failback)
        self.fencer = Fencer(fence)
        self.reboot = tuple(reboot) if reboot else None
        self.peer_alive = False
        self.clearance_wanted = False
        self._veto_said: str | None = None

    @property
    def guarded(self) -> bool:
        """Whether a takeover from a silent peer must be cleared here first (rscmgr guarded_takeover)."""
        return self.fencer.configured or self.uplink.configured

    # -- events ----------------------------------------------------------------------------
    def comm_up(self, now: float) -> list:
        return self.fencer.comm_up(now)

    def ping_count(self, count: int, now: float) -> list:
        return self.uplink.reachable(count, now) + self._clear(now)

    def peer_status(self, old: str, new: str, now: float) -> list:
        """Every status change of the peer (membership), before the resource manager hears of it. A peer
        declared dead that shows up `active` has been running all along (a healed partition, or two
        nodes that started apart): the same heal round as membership's PartitionHealed."""
        if new == "dead":
            if self.peer_alive or not self.heal.lost_peer:
                self.heal.peer_lost(self.resources.holding())
            self.peer_alive = False
            self.uplink.peer_down()
            return []
        if self.peer_alive:
            return []
        self.peer_alive = True
        self.clearance_wanted = False
        self._veto_said = None
        out = self.fencer.cancel() + self.uplink.peer_up(now)
        if old == "dead" and new == "active":
            out += self.healed(now)
        return out

    def peer_restarted(self) -> None:
        self.heal.peer_restarted()

    def healed(self, now: float) -> list:
        return self.heal.healed(self.resources.holding(), self.uplink.count())

    def message(self, fields: dict[str, str], now: float) -> list:
        mtype = fields.get("t", "")
        if mtype == HEAL_TYPE:
            return self.heal.claim_received(fields, self.resources.holding(), self.uplink.count())
        if mtype in UPLINK_TYPES:
            return self.uplink.message(mtype, fields, now)
        if mtype == "resource":
            return self.heal.peer_reported(fields)
        return []

    def takeover_requested(self, now: float) -> list:
        """rscmgr.ClearTakeover: the silent peer may hold resources; clear the takeover when safe."""
        self.clearance_wanted = True
        return self._clear(now)

    def fence_done(self, purpose: str, ok: bool, rc: int | None, detail: str, now: float) -> list:
        return self._convert(self.fencer.done(purpose, ok, rc, detail, now))

    def stop_failed(self, keys) -> list:
        """A resource would not stop (it may still run here)."""
        if self.reboot is None:
            return [Log("crit", f"Resource STOP failure ({' '.join(keys)}): not rebooting (stop_failure block);"
                                " manual intervention required")]  # fmt: skip
        return [Reboot(self.reboot, f"Resource STOP failure ({' '.join(keys)})")]

    def tick(self, now: float) -> list:
        return self.uplink.tick(now, self.resources.holding()) + self._convert(self.fencer.tick(now))

    def next_wakeup(self, now: float) -> float:
        wake = self.fencer.next_wakeup(now)
        if self.uplink.giveup is not None:
            wake = min(wake, self.uplink.giveup[0])
        return max(now, wake)

    def snapshot(self) -> dict:
        return {"uplink": self.uplink.snapshot(), "fencing": self.fencer.snapshot(),
                "takeover_blocked": self.blocked(),
                "last_heal": dict(self.heal.last_decision)}  # fmt: skip

    def blocked(self) -> str | None:
        """Why a takeover from the silent peer waits, for status lines."""
        if not self.clearance_wanted:
            return None
        if self._veto_said:
            return self._veto_said
        if self.fencer.state == "failed":
            return f"fencing {self.peer} failed ({self.fencer.last_error}); retrying"
        return f"fencing {self.peer}"

    # -- internals ---------------------------------------------------------------------------
    def _clear(self, now: float) -> list:
        if not self.clearance_wanted or self.peer_alive:
            return []
        veto = self.uplink.takeover_veto()
        if veto:
            if veto != self._veto_said:
                self._veto_said = veto
                return [Log("crit", f"Takeover of {self.peer}'s resources blocked: {veto}")]
            return []
        self._veto_said = None
        if self.fencer.configured:
            return self._convert(self.fencer.fence(self.peer, now))
        self.clearance_wanted = False
        return [Cleared("n_stnth")]

    def _convert(self, actions: list) -> list:
        out = []
        for action in actions:
            if isinstance(action, Fenced):
                if self.clearance_wanted and not self.peer_alive:
                    self.clearance_wanted = False
                    out.append(Cleared("OK"))
            else:
                out.append(action)
        return out
