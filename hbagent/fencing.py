"""Fencing (STONITH) before taking over from a silent peer, as Heartbeat 3.0.6 does it; a pure state machine.

When the peer is declared dead while it may still hold resources, 3.0.6 resets it through its STONITH
device first and takes over only once the reset succeeded; a failed reset is retried every 5 s,
forever, and the takeover waits ("STONITH of web2 failed.  Retrying..."). hbagent does the same with:

* ha.cf `stonith <type> <config-file>` or `stonith_host <node|*> <type> <parameters>` (the last line
  that applies to this node wins, as in 3.0.6), run through cluster-glue's `stonith` tool
  (Debian package cluster-glue, the very plugins 3.0.6 loads):
  `stonith -t <type> -p <parameters> -T reset <node>` / `stonith -t <type> -F <config-file> -T reset <node>`;
* or, agent only, hbagent.conf `fence_command <program> [<arg>…]`: `<program> <arg>… <node>`, exit
  status 0 = the node is fenced (off or reset). It wins over the ha.cf devices on this node.

Each attempt sends 3.0.6's informational `stonith node=<peer> result=OK|badhost|bad` message. At
comm-up and every hour the device status is checked (`stonith … -S`), as 3.0.6 does; a failed check is
only logged. The commands run off the event loop (the daemon's fence thread): `RunFence` out,
`done()` in.
"""

from __future__ import annotations

from dataclasses import dataclass

from .membership import Log
from .rscmgr import Send

RETRY_S = 5.0  # StonithProcessDied: Gmain_timeout_add(5*1000, StonithProc, ...)
STATUS_EVERY_S = 3600.0
FENCE_TIMEOUT_S = 120.0
STONITH_TOOL = "stonith"
S_BADHOST = 4  # cluster-glue's exit status: the device cannot reset this host


@dataclass(frozen=True)
class FenceMethod:
    description: str  # for logs: "stonith -t null", "fence_command /usr/local/sbin/fence-peer"
    reset: tuple[str, ...]  # argv without the node name
    status: tuple[str, ...] | None  # argv of the device status check (stonith devices only)
    origin: str  # where it was configured: path:line

    def reset_argv(self, node: str) -> list[str]:
        return [*self.reset, node]


def fence_method(ha_cf, fence_command=None, node: str = "", tool: str = STONITH_TOOL) -> FenceMethod | None:
    """The fencing this node uses, or None. `fence_command`: (argv, origin) from hbagent.conf."""
    if fence_command:
        argv, origin = fence_command
        return FenceMethod(f"fence_command {' '.join(argv)}", tuple(argv), None, origin)
    devices = [d for d in ha_cf.stonith if d.applies_to(node)]
    if not devices:
        return None
    device = devices[-1]
    config = ("-F", device.config) if device.directive == "stonith" else ("-p", device.config)
    base = (tool, "-t", device.type, *config)
    return FenceMethod(f"{tool} -t {device.type}", (*base, "-T", "reset"), (*base, "-S"),
                       f"{ha_cf.path}:{device.line}")  # fmt: skip


@dataclass(frozen=True)
class RunFence:
    """Run this command off the loop; report with Fencer.done(). `purpose`: reset | status."""

    argv: tuple[str, ...]
    purpose: str
    node: str | None = None


@dataclass(frozen=True)
class Fenced:
    """The node is fenced: take over now."""

    node: str


class Fencer:
    def __init__(self, method: FenceMethod | None):
        self.method = method
        self.target: str | None = None  # a reset is wanted for this node
        self.running: str | None = None  # purpose of the command running now
        self.retry_at: float | None = None
        self.status_at: float | None = None
        self.attempts = 0
        self.last_error = ""
        self.state = "idle"  # idle | fencing | failed | fenced

    @property
    def configured(self) -> bool:
        return self.method is not None

    # -- events ----------------------------------------------------------------------------
    def comm_up(self, now: float) -> list:
        """3.0.6 checks the device at comm-up, then every hour."""
        if self.method is None or self.method.status is None:
            return []
        self.status_at = now
        return self.tick(now)

    def fence(self, node: str, now: float) -> list:
        """The peer must be fenced before anybody takes its resources."""
        if self.method is None:
            return []
        if self.target == node and self.state in ("fencing", "failed"):
            return []
        self.target, self.attempts, self.last_error, self.retry_at = node, 0, "", None
        self.state = "fencing"
        return self._attempt(now)

    def cancel(self) -> list:
        """The peer is alive again: no takeover, no more attempts (a running one finishes unheeded)."""
        if self.target is None:
            return []
        node, self.target, self.retry_at = self.target, None, None
        self.state = "idle"
        return [Log("info", f"Fencing of {node} no longer needed: it is alive.")]

    def done(self, purpose: str, ok: bool, rc: int | None, detail: str, now: float) -> list:
        if purpose == "status":
            self.running = None if self.running == "status" else self.running
            if ok:
                return []
            return [Log("error", f"STONITH device [{self.method.description}] not operational! ({detail})"),
                    Log("info", "This may mean that the STONITH device has failed!")]  # fmt: skip
        self.running = None
        node = self.target
        if node is None:
            return [Log("info", f"fencing result ignored ({'ok' if ok else detail}): no longer needed")]
        if ok:
            self.target, self.state = None, "fenced"
            return [Log("info", f"node {node} now reset."),
                    Send((("t", "stonith"), ("node", node), ("result", "OK"))), Fenced(node)]  # fmt: skip
        result = "badhost" if rc == S_BADHOST else "bad"
        self.state, self.last_error = "failed", detail
        self.retry_at = now + RETRY_S
        first = (f"Device {self.method.description} cannot reset host {node}." if result == "badhost"
                 else f"Host {node} not reset! ({detail})")  # fmt: skip
        return [
            Log("error", first),
            Send((("t", "stonith"), ("node", node), ("result", result))),
            Log("error", f"STONITH of {node} failed.  Retrying..."),
            Log("crit", f"Takeover of {node}'s resources blocked until {node} is fenced "
                        f"(attempt {self.attempts} with {self.method.description} failed: {detail})"),
        ]  # fmt: skip

    def tick(self, now: float) -> list:
        if self.method is None or self.running is not None:
            return []
        if self.target is not None and self.retry_at is not None and now >= self.retry_at:
            self.retry_at = None
            return self._attempt(now)
        if self.status_at is not None and now >= self.status_at and self.target is None:
            self.status_at = now + STATUS_EVERY_S
            self.running = "status"
            return [Log("info", f"Checking status of STONITH device [{self.method.description}]"),
                    RunFence(self.method.status, "status")]  # fmt: skip
        return []

    def next_wakeup(self, now: float) -> float:
        times = [t for t in (self.retry_at, self.status_at) if t is not None]
        return max(now, min(times)) if times else now + 3600

    def snapshot(self) -> dict:
        return {"method": self.method.description if self.method else None,
                "configured_at": self.method.origin if self.method else None, "state": self.state,
                "target": self.target, "attempts": self.attempts, "last_error": self.last_error}  # fmt: skip

    # -- internals ---------------------------------------------------------------------------
    def _attempt(self, now: float) -> list:
        if self.running is not None:
            self.retry_at = now + 0.5  # a status check is running: right after it
            return []
        self.attempts += 1
        self.running = "reset"
        node = self.target
        return [Log("info", f"Resetting node {node} with [{self.method.description}]"),
                RunFence(tuple(self.method.reset_argv(node)), "reset", node)]  # fmt: skip
