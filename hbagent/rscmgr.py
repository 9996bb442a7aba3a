"""Resource-protocol state machine of a two-node haresources cluster (Heartbeat 3.0.6, spec §8).

Pure: no I/O, no threads, no wall clock. Events go in, a list of actions comes out.

Wiring (what the daemon does)
-----------------------------
    mgr = ResourceManager(me, ha_cf.nodes, groups, ha_cf.auto_failback,
                          mbb_groups={...}, clock=time.monotonic)

Events (each returns list[Action]; `now` defaults to clock()):
    mgr.comm_up()                          membership says comm is up (our status just went `active`)
    mgr.peer_status(node, status)          every status change of the peer, incl. the first one heard
                                           ('dead' is the same as peer_dead)
    mgr.peer_dead(node)                    membership declared the peer dead (before or after comm_up)
    mgr.message(node, fields)              every authenticated cluster message from the peer, fields as
                                           dict or [(name, value)] (first occurrence wins). Our own
                                           looped-back copies must NOT be fed (they are ignored):
                                           their effect is applied when they are sent.
    mgr.tick()                             periodically (≤ 1 s; 250 ms is good) for the timers
    mgr.standby(which) / mgr.takeover(which)   hb_standby / hb_takeover [all|local|foreign|failback]
    mgr.shutdown()                         graceful stop requested (after the daemon sent its `status`)
    mgr.acquire_done(groups, ok, failed=())    result of the outstanding Acquire
    mgr.release_done(groups, ok, failed=())    result of the outstanding Release
    mgr.takeover_cleared(result)           answer to ClearTakeover: 'OK' (peer fenced) or 'n_stnth'
    mgr.relinquish(rset, why)              give up a set the peer holds too (healed partition, heal.py)

Actions:
    Send(fields)           send a cluster message: `fields` are (name, value) pairs, `t` first; the
                           daemon appends the §5 fields (src, srcuuid, seq, hg, ts, ld, ttl, auth)
    Acquire(groups, part)  start these group keys, in this order, each in line order
                           (resources.ResourceExecutor.start_group(group, part)); report acquire_done
    Release(groups, part)  stop these group keys, in this order, each in reverse line order
                           (stop_group(group, part)); report release_done
    Unannounce(groups)     stop any gratuitous ARP still being sent for these groups' addresses
    Log(level, text)       level: debug|info|warning|error|critical (Heartbeat's wording)
    Reply(ok, text)        the answer to a local standby/takeover/shutdown request
    ShutdownDone(ok, failed)   all groups released (and `shutdone` sent when ok): send the last
                           status(es) and exit. ok=False: a STOP failed, nothing claims otherwise;
                           Heartbeat would reboot here, the daemon should exit non-zero.
    ClearTakeover(node)    (guarded_takeover only) the silent peer may still hold resources, where 3.0.6
                           would STONITH it: take over only after takeover_cleared (guard.py decides:
                           fencing, ping nodes)

Collaborators (optional): `failback_veto()` -> reason or None, asked before an automatic failback
(uplink.py: never fail back to a node that reaches fewer ping nodes).

At most one Acquire/Release is outstanding at a time; the next one comes after its *_done.
Run them off the event loop (they take seconds) and keep heartbeating meanwhile.

Modes: auto_failback `on` and `off` (nice_failback) follow hb_resource.c closely, own looped-back
messages included; `legacy` in its basic form (rsc_legacy.py).

Parts of the class live beside it, each concern in one file: make-before-break moves (rsc_mbb.py),
legacy mode (rsc_legacy.py); resource-set bits and names (rsc_sets.py). The split-brain decisions
(heal, ping nodes, fencing) are not here at all: guard.py, through the hooks above.

Deliberate differences from 3.0.6 (each keeps the wire sequence valid for a real peer):
* a message caused by processing our own copy is sent after it (3.0.6 sometimes sends it first,
  e.g. `resource … isstable=1` before `ask_resources … done`, spec §6.2/§9.2/§9.4);
* local standby/takeover requests that 3.0.6 would send and then ignore itself are refused up front;
* `hb_takeover rsc_hold=failback` from the peer means "give it its groups back" (standby foreign);
  3.0.6's rc.d script falls through to `hb_standby` = all;
* a peer's `starting` cancels a standby it was part of (3.0.6 waits for the 1 h timer);
* a STOP failure is reported (Log critical, ShutdownDone(ok=False)); rebooting is the daemon's, opt-in
  (hbagent.conf `stop_failure reboot`, guard.py).
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .rsc_legacy import LegacyMode
from .rsc_mbb import MBB_FIELD, MBB_TYPE, PART_ALL, PART_IP, PART_NON_IP, MakeBeforeBreak
from .rsc_sets import (
    ALL,
    FOREIGN,
    LOCAL,
    NONE,
    RSC_NAMES,
    Standby,
    _taker_set,
    _update,
    decode_resources,
    encode_resources,  # fmt: skip
)

__all__ = ["ALL", "FOREIGN", "LOCAL", "MBB_FIELD", "MBB_TYPE", "NONE", "PART_ALL", "PART_IP", "PART_NON_IP",
           "RSC_NAMES", "ResourceManager", "Standby", "decode_resources", "encode_resources"]  # fmt: skip


RQSTDELAY = 10.0  # s in RSCRCVD before taking our own groups anyway
STANDBY_INIT_TIMEOUT = 10.0  # s for the peer's `other` reply
STANDBY_RSC_TIMEOUT = 3600.0  # s for the later standby phases
FAILBACK_RETRY = 1.0  # s between auto-failback attempts
GIVEUP_STANDBY_DELAY = 30.0  # s after a failed start before `hb_standby <group type>`


class State(enum.Enum):
    INIT = "INIT"
    STARTING = "STARTING"
    BOTHSTARTING = "BOTHSTARTING"
    RSCRCVD = "RSCRCVD"
    STABLE = "STABLE"
    SHUTDOWN = "SHUTDOWN"


# -- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    fields: tuple[tuple[str, str], ...]

    @property
    def type(self) -> str:
        return self.fields[0][1]

    def get(self, name: str, default: str | None = None) -> str | None:
        return next((v for k, v in self.fields if k == name), default)


@dataclass(frozen=True)
class Acquire:
    groups: tuple[str, ...]
    part: str = PART_ALL


@dataclass(frozen=True)
class Release:
    groups: tuple[str, ...]
    part: str = PART_ALL


@dataclass(frozen=True)
class Unannounce:
    """Stop gratuitous ARP for these groups' addresses now: the peer is about to announce them, and a
    late announcement from here would pull clients back to a node that is letting the address go."""

    groups: tuple[str, ...]


@dataclass(frozen=True)
class Log:
    level: str
    text: str


@dataclass(frozen=True)
class Reply:
    ok: bool
    text: str


@dataclass(frozen=True)
class ShutdownDone:
    ok: bool
    failed: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClearTakeover:
    node: str


Action = Send | Acquire | Release | Unannounce | Log | Reply | ShutdownDone | ClearTakeover


@dataclass
class _Op:
    kind: str  # acquire | release
    groups: tuple[str, ...]
    part: str
    purpose: str
    then: Callable[[tuple[str, ...]], None] | None = None  # called with the failed keys
    prestart: bool = False  # make-before-break: runs here, but not ours yet


class ResourceManager(MakeBeforeBreak, LegacyMode):
    def __init__(
        self,
        me: str,
        nodes: Sequence[str],
        groups: Iterable,
        auto_failback: str = "on",
        *,
        mbb_groups: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
        guarded_takeover: bool = False,
        failback_veto: Callable[[], str | None] | None = None,
    ):
        nodes = [n.lower() for n in nodes]
        me = me.lower()
        if me not in nodes or len(nodes) != 2:
            raise ValueError(f"need exactly two nodes including {me!r}, got {nodes}")
        if auto_failback not in ("on", "off", "legacy"):
            raise ValueError(f"auto_failback must be on, off or legacy, not {auto_failback!r}")
        self.me = me
        self.peer = next(n for n in nodes if n != me)
        self.groups = list(groups)
        keys = [g.key for g in self.groups]
        if len(set(keys)) != len(keys):
            raise ValueError(f"resource group keys must be unique: {keys}")
        self._node_of = {g.key: g.node.lower() for g in self.groups}
        unknown = set(mbb_groups) - set(keys)
        if unknown:
            raise ValueError(f"make-before-break groups not in haresources: {sorted(unknown)}")
        self.mbb_groups = frozenset(mbb_groups)
        self.nice_failback = auto_failback != "legacy"
        self.auto_failback = auto_failback == "on"
        self.mode = auto_failback
        self._clock = clock
        self.now = clock()

        # hb_resource.c state
        self.state = State.INIT
        self.i_hold = NONE
        self.other_holds = NONE
        self.other_is_stable = False
        self.going_standby = Standby.NOT
        self.standby_rsctype = ALL
        self.standby_deadline: float | None = None
        self.rscrcvd_deadline: float | None = None
        self.needs_failback = False
        self.failback_retry_at: float | None = None
        self.takeover_in_progress = False
        self.shutdown_in_progress = False
        self.needs_shutdown = False
        self._shutdown_delay_logged = False

        # membership as seen here
        self.comm_is_up = False
        self.peer_heard = False
        self.peer_alive = False
        self.peer_gave_up = False  # it sent shutdone
        self._dead_pending = False  # declared dead before comm-up: handled at comm-up
        self._dead_handled = False
        self.guarded_takeover = guarded_takeover
        self.awaiting_clearance = False  # ClearTakeover sent, takeover_cleared not yet received
        self.failback_veto = failback_veto
        self._veto_logged: str | None = None

        # resource work
        self.held: set[str] = set()
        self.stop_failed: set[str] = set()
        self._ops: deque[_Op] = deque()
        self._running: _Op | None = None
        self._giveup_standbys: list[tuple[float, int]] = []

        # make-before-break
        self.peer_is_hbagent = False
        self._mbb_offer: tuple[str, ...] = ()
        self._mbb_wait: tuple[str, ...] = ()
        self.prestarted: set[str] = set()

        self._out: list = []
        self._loopback: deque[dict[str, str]] = deque()

    # ================================================================ public events
    def comm_up(self, now: float | None = None) -> list:
        return self._event(now, self._on_comm_up)

    def peer_status(self, node: str, status: str, now: float | None = None) -> list:
        return self._event(now, self._on_peer_status, node.lower(), status)

    def peer_dead(self, node: str, now: float | None = None) -> list:
        return self._event(now, self._on_peer_dead, node.lower())

    def message(
        self, node: str, fields: Mapping[str, str] | Iterable[tuple[str, str]], now: float | None = None
    ):
        return self._event(now, self._on_message, node.lower(), _as_dict(fields))

    def tick(self, now: float | None = None) -> list:
        return self._event(now, lambda: None)

    def standby(self, which: str = "all", now: float | None = None) -> list:
        return self._event(now, self._on_standby_request, which)

    def takeover(self, which: str = "all", now: float | None = None) -> list:
        return self._event(now, self._on_takeover_request, which)

    def shutdown(self, now: float | None = None) -> list:
        return self._event(now, self._on_shutdown_request)

    def acquire_done(self, groups: Sequence[str] | None, ok: bool, failed: Sequence[str] = (), now=None):
        return self._event(now, self._on_op_done, "acquire", groups, ok, failed)

    def release_done(self, groups: Sequence[str] | None, ok: bool, failed: Sequence[str] = (), now=None):
        return self._event(now, self._on_op_done, "release", groups, ok, failed)

    def takeover_cleared(self, result: str = "n_stnth", now: float | None = None) -> list:
        return self._event(now, self._on_takeover_cleared, result)

    def relinquish(
        self, rset: int, why: str, peer_holds: int | None = None, now: float | None = None
    ) -> list:
        """Give up a resource set that the peer holds as well (a healed partition), then tell the peer
        what this node holds (`resource … rtype=full`); NONE only tells it. `peer_holds`: what the peer
        keeps, when known (its `resource` message will say so too)."""
        return self._event(now, self._on_relinquish, rset, why, peer_holds)

    def reconfigure(self, groups: Iterable, auto_failback: str, mbb_groups: Iterable[str] = ()) -> None:
        """A reloaded configuration: the same group keys on the same nodes (what local/foreign mean
        must not change under the peer's feet), new resources inside groups, on <-> off, mbb list."""
        groups = list(groups)
        if {g.key: g.node.lower() for g in groups} != self._node_of:
            raise ValueError("haresources groups (keys or nodes) cannot change while running")
        if (auto_failback == "legacy") != (self.mode == "legacy") or auto_failback not in (
            "on",
            "off",
            "legacy",
        ):
            raise ValueError(f"auto_failback {self.mode} -> {auto_failback} cannot change while running")
        unknown = set(mbb_groups) - set(self._node_of)
        if unknown:
            raise ValueError(f"make-before-break groups not in haresources: {sorted(unknown)}")
        self.groups = groups
        self.mode = auto_failback
        self.auto_failback = auto_failback == "on"
        self.mbb_groups = frozenset(mbb_groups)

    # ================================================================ queries
    def groups_status(self) -> list[dict]:
        """Who holds what, as this node knows it: per group its key, preferred node, resources,
        `held_by` (node names; two names = both claim it, an error) and what runs here."""
        running = set(self._running.groups) if self._running is not None else set()
        out = []
        for g in self.groups:
            local = self._node_of[g.key] == self.me
            holders = [self.me] if g.key in self.held else []
            peer_bit = FOREIGN if local else LOCAL  # the peer's name for this group's set
            if self.nice_failback and self.peer_alive and self.other_holds & peer_bit:
                holders.append(self.peer)
            if g.key in running:
                here = "starting" if self._running.kind == "acquire" else "stopping"
            elif g.key in self.stop_failed:
                here = "stop_failed"
            elif g.key in self.held:
                here = "running"
            elif g.key in self.prestarted:
                here = "prestarted"
            else:
                here = "stopped"
            out.append({
                "key": g.key,
                "preferred_node": g.node.lower(),
                "set": "local" if local else "foreign",
                "resources": [r.word for r in g.resources],
                "held_by": holders,
                "here": here,
                "make_before_break": g.key in self.mbb_groups,
            })  # fmt: skip
        return out

    def isstable(self) -> bool:
        """hb_rsc_isstable(): nothing in flight on either side."""
        if self._running is not None or self._ops:
            return False
        if not self.nice_failback:
            return True
        if self.shutdown_in_progress and self.state == State.INIT:
            return True
        return (
            self.other_is_stable
            and not self.takeover_in_progress
            and self.going_standby == Standby.NOT
            and self.standby_deadline is None
            and self.state in (State.STABLE, State.SHUTDOWN, State.INIT)
        )

    def rscstatus(self) -> str:
        """cl_status rscstatus: none|local|foreign|all, or transition while not stable."""
        if not self.isstable():
            return "transition"
        return decode_resources(self.holding())

    def holding(self) -> int:
        """What this node holds as rsc_hold bits (3.0.6's i_hold; from the groups in legacy mode)."""
        return self.i_hold if self.nice_failback else self._held_bits()

    def snapshot(self) -> dict:
        return {
            "node": self.me,
            "peer": self.peer,
            "auto_failback": self.mode,
            "state": self.state.value,
            "rscstatus": self.rscstatus(),
            "i_hold": decode_resources(self.holding()),
            "other_holds": decode_resources(self.other_holds),
            "other_is_stable": self.other_is_stable,
            "going_standby": self.going_standby.value,
            "standby_rsctype": decode_resources(self.standby_rsctype),
            "standby_deadline": self.standby_deadline,
            "needs_failback": self.needs_failback,
            "takeover_in_progress": self.takeover_in_progress,
            "awaiting_clearance": self.awaiting_clearance,
            "comm_up": self.comm_is_up,
            "peer_alive": self.peer_alive,
            "peer_is_hbagent": self.peer_is_hbagent,
            "shutdown": self.shutdown_in_progress or self.needs_shutdown,
            "held": [k for k in self._keys(ALL) if k in self.held],
            "stop_failed": sorted(self.stop_failed),
            "prestarted": sorted(self.prestarted),
            "mbb_groups": sorted(self.mbb_groups),
            "groups": self.groups_status(),
            "running": None
            if self._running is None
            else {
                "kind": self._running.kind,
                "groups": list(self._running.groups),
                "part": self._running.part,
            },
            "queued": [{"kind": op.kind, "groups": list(op.groups), "part": op.part} for op in self._ops],
        }

    # ================================================================ event plumbing
    def _event(self, now: float | None, handler, *args) -> list:
        self.now = self._clock() if now is None else now
        self._out = []
        self._check_timers()
        handler(*args)
        self._settle()
        out, self._out = self._out, []
        return out

    def _settle(self) -> None:
        while True:
            if self._loopback:
                self._apply_own(self._loopback.popleft())
            elif not self._pump() and not self._shutdown_if_needed():
                return

    def _log(self, level: str, text: str) -> None:
        self._out.append(Log(level, text))

    def _send(self, *fields: tuple[str, str]) -> None:
        self._out.append(Send(tuple(fields)))
        self._loopback.append(dict(fields))  # processed like Heartbeat processes its own copy

    def _keys(self, rset: int) -> list[str]:
        """Group keys of a resource set, in haresources order."""
        keys = []
        for g in self.groups:
            local = self._node_of[g.key] == self.me
            if (local and rset & LOCAL) or (not local and rset & FOREIGN):
                keys.append(g.key)
        return keys

    def _held_bits(self) -> int:
        bits = NONE
        for key in self.held:
            bits |= LOCAL if self._node_of[key] == self.me else FOREIGN
        return bits

    # ---------------------------------------------------------------- resource work queue
    def _queue(
        self, kind: str, keys: Iterable[str], purpose: str, then=None, part: str = PART_ALL, prestart=False
    ) -> None:
        self._ops.append(_Op(kind, tuple(keys), part, purpose, then, prestart))

    def _queue_next(
        self, kind: str, keys: Iterable[str], purpose: str, then=None, part: str = PART_ALL, prestart=False
    ) -> None:
        """Queue ahead of everything else: the second step of a sequence already running."""
        self._ops.appendleft(_Op(kind, tuple(keys), part, purpose, then, prestart))

    def _pump(self) -> bool:
        """Start the next queued op if none runs; ops without groups complete on the spot."""
        if self._running is not None or not self._ops:
            return False
        op = self._ops.popleft()
        if not op.groups:
            if op.then:
                op.then(())
            return True
        self._running = op
        self._out.append((Acquire if op.kind == "acquire" else Release)(op.groups, op.part))
        return True

    def _on_op_done(self, kind: str, groups, ok: bool, failed: Sequence[str]) -> None:
        op = self._running
        if op is None or op.kind != kind:
            raise RuntimeError(f"{kind}_done without an outstanding {kind} (running: {op})")
        if groups is not None and tuple(groups) != op.groups:
            raise RuntimeError(f"{kind}_done for {tuple(groups)}, but the outstanding {kind} is {op.groups}")
        failed_keys = tuple(k for k in op.groups if k in set(failed)) if failed else ()
        if not ok and not failed_keys:
            failed_keys = op.groups
        self._running = None
        good = [k for k in op.groups if k not in failed_keys]
        if kind == "acquire":
            if op.prestart:
                self.prestarted.update(good)
            else:
                self.held.update(good)
                self.prestarted.difference_update(good)
                self.stop_failed.difference_update(good)
        else:
            if op.part != PART_NON_IP:
                self.held.difference_update(good)
            if op.part != PART_IP:
                self.prestarted.difference_update(good)
            self.stop_failed.difference_update(good)
            self.stop_failed.update(failed_keys)
            for key in failed_keys:
                self._log(
                    "critical",
                    f"Resource STOP failure for group {key} ({op.purpose}): it may still be running here; "
                    "manual intervention required (Heartbeat would reboot this node)",
                )
        if op.then:
            op.then(failed_keys)

    # ---------------------------------------------------------------- timers
    def _check_timers(self) -> None:
        if not self.nice_failback:
            return
        now = self.now
        if self.standby_deadline is not None and now >= self.standby_deadline:
            self.standby_deadline = None
            self.other_is_stable = True
            self.going_standby = Standby.NOT
            self._log("warning", "No reply to standby request.  Standby request cancelled.")
            self._mbb_reset()
        if self.state == State.RSCRCVD and self.rscrcvd_deadline is not None and now > self.rscrcvd_deadline:
            self.state = State.STABLE
            self._req_our_resources(False)
            self._log("info", "local resource transition completed.")
            self._send_held(True)
            self._audit()
        if self.failback_retry_at is not None and now >= self.failback_retry_at:
            self.failback_retry_at = None
            self._perform_auto_failback()
        due = [item for item in self._giveup_standbys if now >= item[0]]
        if due:
            self._giveup_standbys = [item for item in self._giveup_standbys if now < item[0]]
            for _due_at, rset in due:
                ok, text = self._request_standby(rset, why="after a failed start")
                if not ok:
                    self._log("warning", f"hb_standby {decode_resources(rset)} after a failed start: {text}")

    # ---------------------------------------------------------------- membership events
    def _on_comm_up(self) -> None:
        if self.comm_is_up:
            return
        self.comm_is_up = True
        if self.nice_failback:
            self._send(("t", "starting"))
            self.state = State.STARTING
        elif not self._dead_pending:  # else the takeover below takes ours too
            self._legacy_request_own()
        if self._dead_pending:
            self._dead_pending = False
            self._recover_dead()

    def _on_peer_status(self, node: str, status: str) -> None:
        if node != self.peer:
            return
        if status == "dead":
            self._on_peer_dead(node)
        else:
            self._peer_is_alive()

    def _peer_is_alive(self) -> None:
        self.peer_heard = True
        if not self.peer_alive:
            self.peer_alive = True
            self.peer_gave_up = False
            self._dead_pending = self._dead_handled = False
            self.awaiting_clearance = False

    def _on_peer_dead(self, node: str) -> None:
        if node != self.peer or self._dead_pending or self._dead_handled:
            return
        self.peer_alive = False
        if not self.comm_is_up:
            self._dead_pending = True
            return
        self._recover_dead()

    def _recover_dead(self) -> None:
        """hb_rsc_recover_dead_resources for the peer."""
        self._dead_handled = True
        self._cancel_standby("Cancelling pending standby operation")
        if self.shutdown_in_progress:
            # a dead peer is not in flux and will never answer our `starting`: let the shutdown go on
            self.other_is_stable = True
            if self.state in (State.STARTING, State.BOTHSTARTING, State.RSCRCVD):
                self.state = State.STABLE
            return
        if not self.nice_failback:
            if self.peer_gave_up:
                self._send_stonith("unneeded")
                self._takeover_from_peer()
            else:
                self._takeover_when_cleared()
            return
        self.needs_failback = True
        if self.peer_heard and self.other_holds == NONE:
            self._log("info", f"Dead node {self.peer} gave up resources.")
            self._send_stonith("unneeded")
            if self.i_hold == ALL:
                self.other_is_stable = True
                return
            if not self.i_hold & FOREIGN:
                self._takeover_from_peer()
            elif not self.i_hold & LOCAL:
                self._req_our_resources(True)
        else:
            self._takeover_when_cleared()

    def _takeover_when_cleared(self) -> None:
        """The silent peer may still hold resources (3.0.6 would STONITH it here). Unguarded: take over
        now, as 3.0.6 without a STONITH device; guarded: ask and wait for takeover_cleared()."""
        if not self.guarded_takeover:
            self._take_over_cleared("n_stnth")
            return
        self.awaiting_clearance = True
        self._out.append(ClearTakeover(self.peer))

    def _on_takeover_cleared(self, result: str) -> None:
        if not self.awaiting_clearance:
            self._log("debug", f"takeover clearance ({result}) for {self.peer} no longer needed")
            return
        self.awaiting_clearance = False
        self._take_over_cleared(result)

    def _take_over_cleared(self, result: str) -> None:
        if result == "n_stnth":
            self._send_stonith("n_stnth")
            if self.nice_failback:
                self._log("warning", "No STONITH device configured.")
                self._log("warning", "Shared disks are not protected.")
        self._takeover_from_peer()

    def _on_relinquish(self, rset: int, why: str, peer_holds: int | None) -> None:
        if self.shutdown_in_progress or self.needs_shutdown:
            return  # everything goes anyway
        if peer_holds is not None and self.nice_failback:
            self.other_holds = peer_holds
        keys = self._keys(rset)
        if not keys and self.state != State.STABLE:
            return  # nothing to give up, and a start-up handshake tells the peer soon enough
        if self.nice_failback:
            self.i_hold &= ~rset
            if rset & FOREIGN:
                self.needs_failback = False
        if keys:
            self._log("info", f"{why}: giving up {decode_resources(rset)} HA resources.")

        def done(failed: tuple[str, ...]) -> None:
            if failed:
                self._log("critical", f"{why}: could not release {' '.join(failed)}: both nodes may hold it")
            self._send_held(self.state == State.STABLE)

        self._queue("release", keys, why, done)

    def _cancel_standby(self, why: str, drop_prestarted: bool = False) -> None:
        if self.going_standby == Standby.NOT:
            return
        self._log("info", why)
        self.going_standby = Standby.NOT
        self.standby_deadline = None
        if drop_prestarted:
            self._mbb_reset()
        self._mbb_wait = ()
        if not self.other_is_stable and self.i_hold == ALL:
            self.other_is_stable = True

    def _send_stonith(self, result: str) -> None:
        self._send(("t", "stonith"), ("node", self.peer), ("result", result))

    def _takeover_from_peer(self, after_local: Callable[[], None] | None = None) -> None:
        """takeover_from_node + mach_down: our groups first, then the peer's."""
        if self.shutdown_in_progress:
            self._log("info", "Resource takeover cancelled - shutdown in progress.")
            return
        self._log("info", f"Resources being acquired from {self.peer}.")
        if self.nice_failback:
            self.i_hold |= FOREIGN
            self.other_holds = NONE
            self.other_is_stable = True
            self.takeover_in_progress = True
        self._req_our_resources(True, after=after_local)

        def mach_down_done(failed: tuple[str, ...]) -> None:
            self._failed_start(failed)
            self._log("info", f"mach_down takeover complete for node {self.peer}.")
            if self.nice_failback:
                self._send(("t", "resource"), ("rsc_hold", "foreign"), ("info", "mach_down"))

        peer_keys = [g.key for g in self.groups if self._node_of[g.key] == self.peer]
        self._queue("acquire", peer_keys, "mach_down", mach_down_done)
        self.peer_heard = True

    def _req_our_resources(self, get_anyway: bool, after: Callable[[], None] | None = None) -> None:
        if self.shutdown_in_progress:
            return
        if self.nice_failback:
            if (
                not get_anyway
                and (self.other_holds & FOREIGN or self.i_hold & LOCAL)
                and self.going_standby == Standby.NOT
            ):
                self._log("info", "Local Resource acquisition completed. (none)")
                return
            self.i_hold |= LOCAL
        keys = self._keys(LOCAL)

        def done(failed: tuple[str, ...]) -> None:
            self._failed_start(failed)
            self._log(
                "info", "Local Resource acquisition completed." if keys else "No local resources to acquire."
            )
            if self.nice_failback:
                self._send_held(True, "req_our_resources()")
            if after:
                after()

        self._queue("acquire", keys, "req_our_resources", done)

    def _failed_start(self, failed: Iterable[str]) -> None:
        """A group that failed to start was given up; `hb_standby <its type>` follows in 30 s."""
        for key in failed:
            rset = LOCAL if self._node_of[key] == self.me else FOREIGN
            self._log("critical", f"Giving up resources due to failure of group {key}")
            if self.nice_failback and all(r != rset for _due_at, r in self._giveup_standbys):
                self._giveup_standbys.append((self.now + GIVEUP_STANDBY_DELAY, rset))

    # ---------------------------------------------------------------- messages
    def _on_message(self, node: str, fields: dict[str, str]) -> None:
        if node == self.me:
            return  # own copies: already applied when sent
        if node != self.peer:
            self._log("debug", f"resource message from unknown node {node} ignored")
            return
        dest = fields.get("dest")
        if dest is not None and dest.lower() != self.me:
            return
        self.peer_heard = True  # liveness itself comes from membership (peer_status/peer_dead)...
        if not self.peer_alive and not (self._dead_pending or self._dead_handled):
            # ...but a peer that restarted may finish a whole handshake (even a failback) before its
            # next keepalive tells membership its status: what it sends proves it is alive
            self.peer_alive = True
        mtype = fields.get("t", "")
        if MBB_FIELD in fields or mtype == MBB_TYPE:
            self.peer_is_hbagent = True
        if mtype == "stonith":
            self._log("info", f"{node} reports STONITH of {fields.get('node')}: {fields.get('result')}")
            return
        if not self.comm_is_up:
            if mtype in ("starting", "resource", "ask_resources", "hb_takeover", "shutdone", "ip-request"):
                self._log("debug", f"'{mtype}' from {node} before comm-up ignored")
            return
        handler = {
            "starting": self._on_starting,
            "resource": self._on_resource,
            "ask_resources": self._on_ask_resources,
            "hb_takeover": self._on_hb_takeover,
            "shutdone": self._on_shutdone,
            MBB_TYPE: self._on_mbb,
            "ip-request": self._on_ip_request,
            "ip-request-resp": self._on_ip_request_resp,
        }.get(mtype)
        if handler is not None:
            handler(fields)

    def _apply_own(self, fields: dict[str, str]) -> None:
        """What Heartbeat does when its own message comes back to it."""
        mtype = fields.get("t")
        if mtype == "resource":
            self._process_resource(fields, from_me=True)
        elif mtype == "ask_resources":
            self._standby_message(fields, from_me=True)
        elif mtype == "shutdone":
            self.state = State.SHUTDOWN
            self.i_hold = NONE

    def _on_starting(self, fields: dict[str, str]) -> None:
        if not self.nice_failback:
            return
        if self.state == State.STARTING:
            new_state = State.BOTHSTARTING
        elif self.state in (State.RSCRCVD, State.STABLE, State.SHUTDOWN):
            new_state = self.state
        else:
            self._log("error", f"Received 'starting' message in state {self.state.value}")
            return
        # Not in 3.0.6 (it waits for the 1 h timer): a peer that starts again forgot any standby
        self._cancel_standby(
            f"{self.peer} restarted: cancelling pending standby operation", drop_prestarted=True
        )
        self.other_is_stable = False
        if self.takeover_in_progress:
            self._log("warning", "T_STARTING received during takeover.")
        self._send_held(self.state == State.STABLE)
        self.state = new_state

    def _on_resource(self, fields: dict[str, str]) -> None:
        if self.nice_failback:
            self._process_resource(fields, from_me=False)

    def _process_resource(self, fields: dict[str, str], from_me: bool) -> None:
        hold = fields.get("rsc_hold")
        if hold is None:
            self._log("error", "resource message without rsc_hold field.")
            return
        n = encode_resources(hold)
        if n is None:
            self._log("error", f"encode_resources: bad resource type [{hold}]")
            n = NONE
        full = fields.get("rtype") == "full"
        if self.state in (State.STARTING, State.BOTHSTARTING):
            new_state = State.RSCRCVD
        elif self.state in (State.RSCRCVD, State.STABLE, State.SHUTDOWN):
            new_state = self.state
        else:
            self._log("error", f"resource message received in state {self.state.value}")
            return
        if not from_me:
            self.other_holds = _update(full, self.other_holds, n)
            stable = fields.get("isstable")
            if stable is not None:
                if stable == "1":
                    if not self.other_is_stable:
                        self._log("info", "remote resource transition completed.")
                        self.other_is_stable = True
                        self._send_held(self.state == State.STABLE)
                        self._perform_auto_failback()
                else:
                    self.other_is_stable = False
            if self.state not in (State.STABLE, State.SHUTDOWN) and self.other_is_stable:
                self._log("info", "remote resource transition completed.")
                self._req_our_resources(False)
                new_state = State.STABLE
                self._send_held(True)
                self._perform_auto_failback()
        else:
            self.i_hold = _update(full, self.i_hold, n)
            comment = fields.get("info")
            if comment == "mach_down":
                self._log("info", "mach_down takeover complete.")
                self.takeover_in_progress = False
                self.i_hold |= FOREIGN
                self.needs_failback = True
                self.other_is_stable = True
            elif comment == "shutdown":
                new_state = State.SHUTDOWN
        self.state = new_state
        if self.state == State.RSCRCVD and self.rscrcvd_deadline is None:
            self.rscrcvd_deadline = self.now + RQSTDELAY
        self._audit()

    def _send_held(self, stable: bool, comment: str | None = None) -> None:
        if not self.nice_failback:
            return
        fields = [
            ("t", "resource"),
            ("rsc_hold", decode_resources(self.i_hold)),
            ("rtype", "full"),
            ("isstable", "1" if stable else "0"),
        ]
        if comment:
            fields.append(("info", comment))
        self._send(*fields)

    def _perform_auto_failback(self) -> None:
        if (
            self.shutdown_in_progress
            or not self.i_hold & FOREIGN
            or not self.needs_failback
            or not self.auto_failback
        ):
            self.needs_failback = False
            return
        if self.going_standby != Standby.NOT or not self.other_is_stable or self.state != State.STABLE:
            self._log("debug", "Auto failback delayed.")
            self.failback_retry_at = self.now + FAILBACK_RETRY
            return
        veto = self.failback_veto() if self.failback_veto else None
        if veto:
            if veto != self._veto_logged:
                self._log("info", f"Auto failback delayed: {veto}")
            self._veto_logged = veto
            self.failback_retry_at = self.now + FAILBACK_RETRY
            return
        self._veto_logged = None
        self._log("info", "Auto failback triggered.")
        self.standby_rsctype = FOREIGN
        self._send_standby(Standby.ME)
        self.needs_failback = False

    def _audit(self) -> None:
        if not self.nice_failback:
            return
        if self.i_hold & LOCAL and self.other_holds & FOREIGN:
            self._log("error", "Both machines own our resources!")
        if self.other_holds & LOCAL and self.i_hold & FOREIGN:
            self._log("error", "Both machines own foreign resources!")
        if self.isstable() and not self.shutdown_in_progress and self.state != State.SHUTDOWN:
            if not self.i_hold & LOCAL and not self.other_holds & FOREIGN:
                self._log("error", "No one owns our local resources!")
            if not self.other_holds & LOCAL and not self.i_hold & FOREIGN:
                self._log("error", "No one owns foreign resources!")

    # ---------------------------------------------------------------- standby protocol (§8.6)
    def _send_standby(self, phase: Standby, mbb: Sequence[str] = ()) -> None:
        fields = [
            ("t", "ask_resources"),
            ("rsc_hold", decode_resources(self.standby_rsctype)),
            ("info", phase.value),
        ]
        if phase == Standby.ME:
            self._mbb_offer = tuple(
                k for k in self._keys(self.standby_rsctype) if k in self.mbb_groups and k in self.held
            )
            mbb = self._mbb_offer
            if mbb:
                self._out.append(Unannounce(tuple(mbb)))
        if mbb:
            fields.append((MBB_FIELD, " ".join(mbb)))
        self._send(*fields)

    def _on_ask_resources(self, fields: dict[str, str]) -> None:
        if not self.nice_failback:
            self._log("info", "Standby mode only implemented when nice_failback on")
            return
        self._standby_message(fields, from_me=False)

    def _standby_message(self, fields: dict[str, str], from_me: bool) -> None:
        """ask_for_resources(): the three-phase standby protocol, both directions."""
        if self.state == State.SHUTDOWN:
            self._log("debug", "standby message ignored during shutdown")
            return
        info = fields.get("info")
        sender = self.me if from_me else self.peer
        hold = fields.get("rsc_hold")
        rtype = ALL if hold is None else encode_resources(hold)
        if rtype is None:
            self._log("error", f"encode_resources: bad resource type [{hold}]")
            rtype = NONE
        if info is None:
            self._log("error", "Received standby message without info/from")
            return
        if self.standby_deadline is not None and self.now < self.standby_deadline and info == "me":
            left = int(self.standby_deadline - self.now + 0.999)
            self._log(
                "warning", f"Standby in progress- new request from {sender} ignored [{left} seconds left]"
            )
            return
        before = self.going_standby
        ignored = False
        if self.going_standby == Standby.NOT:
            if not self.other_is_stable:
                self._log(
                    "warning", f"standby message [{info}] from {sender} ignored.  Other side is in flux."
                )
                return
            if self.state != State.STABLE:
                self._log(
                    "warning", f"standby message [{info}] from {sender} ignored.  local resources in flux."
                )
                return
            self.standby_rsctype = rtype
            if info == "me":
                self.other_is_stable = False
                self._log("info", f"{sender} wants to go standby [{decode_resources(rtype)}]")
                if from_me:
                    self.standby_deadline = self.now + STANDBY_INIT_TIMEOUT
                    self.going_standby = Standby.ME
                else:
                    self.going_standby = Standby.OTHER
                    accepted = self._mbb_accept(fields)
                    self._send_standby(Standby.OTHER, accepted)
                    self.standby_deadline = self.now + STANDBY_RSC_TIMEOUT
                    if accepted:
                        self._prestart(accepted)
            else:
                ignored = True
        elif self.going_standby == Standby.ME:
            if not from_me:
                self.standby_rsctype = rtype
                self.standby_deadline = self.now + STANDBY_RSC_TIMEOUT
                if info == "other":
                    self._log("info", f"standby: {sender} can take our {decode_resources(rtype)} resources")
                    wait = tuple(k for k in (fields.get(MBB_FIELD) or "").split() if k in self._mbb_offer)
                    if wait:
                        self._mbb_wait = wait
                        self._log(
                            "info", f"make-before-break: waiting for {sender} to pre-start {' '.join(wait)}"
                        )
                    else:
                        self._go_standby_me(rtype, ())
                else:
                    ignored = True
            elif info == "done":
                self._log("info", f"Local standby process completed [{decode_resources(rtype)}].")
                self.going_standby = Standby.DONE
                self.i_hold &= ~self.standby_rsctype
                self.standby_deadline = self.now + STANDBY_RSC_TIMEOUT
            else:
                ignored = True
        elif self.going_standby == Standby.OTHER:
            self.standby_rsctype = rtype
            if info == "done":
                self.standby_deadline = self.now + STANDBY_RSC_TIMEOUT
                if not from_me:
                    self._log("info", f"standby: acquire [{decode_resources(rtype)}] resources from {sender}")
                    self._go_standby_other(rtype)
                    self.going_standby = Standby.DONE
                else:
                    ignored = True
            elif not from_me or info != "other":
                ignored = True
        else:  # DONE
            self.standby_rsctype = rtype
            if info == "done":
                self.standby_deadline = None
                self.going_standby = Standby.NOT
                if from_me:
                    self._log("info", f"Standby resource acquisition done [{decode_resources(rtype)}].")
                    self.i_hold |= _taker_set(rtype)
                else:
                    self._log(
                        "info",
                        f"Other node completed standby takeover of {decode_resources(rtype)} resources.",
                    )
                self._send_held(True)
            else:
                ignored = True
        if ignored:
            self._log("error", f"Ignored standby message '{info}' from {sender} in state {before.value}")

    def _go_standby_me(self, rset: int, mbb_ready: Sequence[str]) -> None:
        """Giver: say we are unstable, release `rset` (addresses of pre-started groups last), done."""
        self.other_is_stable = False
        self.i_hold &= ~rset
        self._send_held(False, "standby")
        keys = self._keys(rset)
        overlap = [k for k in keys if k in mbb_ready]
        plain = [k for k in keys if k not in mbb_ready]
        self._log("info", f"give up {decode_resources(rset)} HA resources (standby).")
        self._mbb_wait = ()

        def abort(failed: tuple[str, ...]) -> None:
            # still (partly) ours: never let the peer start them too. Heartbeat reboots instead.
            self._log("critical", f"standby aborted: could not release {' '.join(failed)}")
            self.i_hold |= rset
            self.going_standby = Standby.NOT
            self.standby_deadline = None
            self.other_is_stable = True
            self._send_held(True)

        def addresses_released(failed: tuple[str, ...]) -> None:
            if failed:
                abort(failed)
                return
            self._log("info", f"{decode_resources(rset)} HA resource release completed (standby).")
            self._send_standby(Standby.DONE)
            if overlap:  # the taker runs them already; ours can go at leisure
                self._queue_next("release", overlap, "make-before-break trailing release", part=PART_NON_IP)

        def plain_released(failed: tuple[str, ...]) -> None:
            if failed:
                abort(failed)
                return
            self._queue_next(
                "release", overlap, "standby (make-before-break addresses)", addresses_released, part=PART_IP
            )

        self._queue("release", plain, "standby", plain_released)

    def _go_standby_other(self, rtype: int) -> None:
        """Taker: acquire the complement of what the giver gave up (pre-started groups first)."""
        rset = _taker_set(rtype)
        keys = self._keys(rset)
        keys = [k for k in keys if k in self.prestarted] + [k for k in keys if k not in self.prestarted]
        self._log("info", f"acquire {decode_resources(rset)} HA resources (standby).")

        def done(failed: tuple[str, ...]) -> None:
            self._failed_start(failed)
            self._log("info", f"{decode_resources(rset)} HA resource acquisition completed (standby).")
            self._send_standby(Standby.DONE)

        self._queue("acquire", keys, "standby", done)

    # ---------------------------------------------------------------- local requests
    def _on_standby_request(self, which: str) -> None:
        rset = {"all": ALL, "local": LOCAL, "foreign": FOREIGN, "failback": FOREIGN}.get(which)
        if rset is None:
            self._out.append(Reply(False, f"wrong resources({which}): use all, local, foreign or failback"))
            return
        ok, text = self._request_standby(rset, why=f"hb_standby {which}")
        self._out.append(Reply(ok, text))

    def _request_standby(self, rset: int, why: str) -> tuple[bool, str]:
        if not self.nice_failback:
            return False, "Standby mode only implemented when nice_failback on"
        refusal = self._standby_refusal()
        if refusal:
            self._log("warning", f"{why}: {refusal}")
            return False, refusal
        self._log("info", f"Going standby [{decode_resources(rset)}].")
        self.standby_rsctype = rset
        self._send_standby(Standby.ME)
        return True, f"asked {self.peer} to take our {decode_resources(rset)} resources"

    def _standby_refusal(self) -> str | None:
        if not self.comm_is_up:
            return "communication is not up yet"
        if self.shutdown_in_progress or self.needs_shutdown:
            return "shutdown in progress"
        if not self.peer_alive:
            return f"{self.peer} is not alive: nobody could take the resources"
        if self.standby_deadline is not None and self.now < self.standby_deadline:
            return "Standby in progress"
        if self.going_standby != Standby.NOT:
            return "a standby is already in progress"
        if not self.other_is_stable:
            return "Other side is in flux."
        if self.state != State.STABLE:
            return "local resources in flux."
        return None

    def _on_takeover_request(self, which: str) -> None:
        if which not in ("all", "local", "foreign", "failback"):
            self._out.append(Reply(False, f"wrong resources({which}): use all, local, foreign or failback"))
            return
        if not self.nice_failback:
            self._out.append(Reply(False, "Standby mode only implemented when nice_failback on"))
            return
        if not self.comm_is_up or not self.peer_alive:
            self._out.append(Reply(False, f"{self.peer} is not alive: its resources are ours already"))
            return
        self._send(("t", "hb_takeover"), ("rsc_hold", which))
        self._out.append(Reply(True, f"asked {self.peer} to give up [{which}]"))

    def _on_hb_takeover(self, fields: dict[str, str]) -> None:
        """rc.d/hb_takeover: the peer wants resources; we go standby for the complementary set.
        `failback` (= local for the asker) maps to foreign here; 3.0.6's script maps it to all."""
        which = fields.get("rsc_hold", "all")
        rset = {"all": ALL, "local": FOREIGN, "foreign": LOCAL, "failback": FOREIGN}.get(which)
        if rset is None or not self.nice_failback:
            self._log("warning", f"hb_takeover [{which}] from {self.peer} ignored")
            return
        self._request_standby(rset, why=f"hb_takeover {which} from {self.peer}")

    # ---------------------------------------------------------------- shutdown (§8.8)
    def _on_shutdown_request(self) -> None:
        if self.shutdown_in_progress or self.needs_shutdown:
            self._out.append(Reply(False, "Heartbeat shutdown already underway."))
            return
        if self.comm_is_up:
            self._handover_before_shutdown()
        self.shutdown_in_progress = True
        self.needs_failback = False
        self.failback_retry_at = None
        self._giveup_standbys = []
        if not self.comm_is_up:
            self.state = State.SHUTDOWN
            self._queue("release", self._keys(ALL), "shutdown", self._finish_shutdown_quietly)
        else:
            self.needs_shutdown = True
        self._out.append(Reply(True, "shutting down"))

    def _handover_before_shutdown(self) -> None:
        """Holding make-before-break groups: hand everything over with a standby first, so the peer
        overlaps with us instead of starting after our release (3.0.6 just releases and sends
        `shutdone`; that still follows, with nothing left to release)."""
        if not self.nice_failback or not any(k in self.mbb_groups for k in self.held):
            return
        refusal = self._standby_refusal()
        if refusal:
            self._log("info", f"shutdown: no make-before-break handover ({refusal})")
            return
        self._request_standby(ALL, why="shutdown")

    def _shutdown_if_needed(self) -> bool:
        if not self.needs_shutdown:
            return False
        if not self.isstable():
            if not self._shutdown_delay_logged:
                self._shutdown_delay_logged = True
                self._log("warning", "Shutdown delayed until current resource activity finishes.")
            return False
        self.needs_shutdown = False
        self._giveup()
        return True

    def _giveup(self) -> None:
        """hb_giveup_resources: announce none, release every group, shutdone."""
        self.i_hold = NONE
        self.state = State.SHUTDOWN
        if self.nice_failback:
            self._send_held(False, "shutdown")
        self._log("info", "Heartbeat shutdown in progress.")
        self._log("info", "Giving up all HA resources.")

        def done(failed: tuple[str, ...]) -> None:
            if failed:
                self._log("critical", "Resource STOP failure: not announcing shutdone")
                self._out.append(ShutdownDone(False, failed))
                return
            self._log("info", "All HA resources relinquished.")
            self._send(("t", "shutdone"), ("st", "dead"))
            self._out.append(ShutdownDone(True))

        self._queue("release", self._keys(ALL), "shutdown", done)

    def _finish_shutdown_quietly(self, failed: tuple[str, ...]) -> None:
        self._out.append(ShutdownDone(not failed, failed))

    def _on_shutdone(self, fields: dict[str, str]) -> None:
        self.peer_gave_up = True
        if not self.nice_failback:
            self._log("info", f"Received shutdown notice from '{self.peer}'.")
            self._takeover_from_peer()
            return
        self.other_is_stable = True
        self.other_holds = NONE
        after_local = None
        if self.i_hold != ALL and not self.shutdown_in_progress:
            # Heartbeat runs the taker's half of a standby for the complement of what we hold;
            # the acquisitions are the takeover's, the `done` rides on our own groups' completion
            rtype = {FOREIGN: LOCAL, LOCAL: FOREIGN}.get(self.i_hold, ALL)
            self.going_standby = Standby.DONE
            self.standby_rsctype = rtype

            def after_local() -> None:
                self._send_standby(Standby.DONE)

        self._log("info", f"Received shutdown notice from '{self.peer}'.")
        self._takeover_from_peer(after_local)


def _as_dict(fields: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    if isinstance(fields, Mapping):
        return {str(k): str(v) for k, v in fields.items()}
    out: dict[str, str] = {}
    for name, value in fields:
        out.setdefault(str(name), value if isinstance(value, str) else str(value))
    return out
