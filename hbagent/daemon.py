"""The hbagent daemon: one selector loop drives membership (and the resource manager) in real time.

* UDP media (transport.py) and ticks go into membership.Membership; its actions come out here:
  Transmit -> every medium, Log -> stderr (journald) and the ha.cf logfile, node events -> rscmgr.
* rscmgr.ResourceManager decides what to start/stop; Acquire/Release run in a worker thread
  (resources.ResourceExecutor) so that keepalives never wait for a slow resource script.
* A unix control socket (<state-dir>/hbagent.sock, one JSON request/reply per connection) serves
  `hbagent cl-status`, `status --json`, `standby`, `takeover` and `reload`.
* SIGHUP (or `hbagent reload`) re-reads ha.cf, authkeys, haresources and hbagent.conf; reload.py
  decides what may change live; an invalid or refused configuration keeps the running one.
* systemd (Type=notify): READY=1 once the media and the control socket are open, STATUS= when the
  membership or the resources change, RELOADING=1/READY=1 around a reload, STOPPING=1 on shutdown,
  WATCHDOG=1 from the event loop every WATCHDOG_USEC/2.
* SIGTERM/SIGINT: graceful stop, resources handed to the peer first (spec §8.8; rscmgr).
* State: hb_generation (strictly increasing per start) and hb_uuid (16 bytes) in <state-dir> and in
  Heartbeat's own /var/lib/heartbeat (state.py), so the node can switch engines either way; the peers'
  generations and seqs (hbagent_peers) so that their old packets replayed after a restart are dropped.
* Hostile input never ends the process: each datagram, control request, signal and reload is handled
  on its own; an unexpected error drops that one input, counts it (status --json: input_errors) and
  logs it (rate-limited). If the loop itself keeps failing, the node releases its resources and says
  `shutdone` before it exits (fail-safe): it never leaves while holding them silently.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import logging
import os
import queue
import selectors
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

from . import (
    HEARTBEAT_VERSION,
    __version__,
    agentconf,
    control,
    ratelimit,
    reload,
    sdnotify,
    splitbrain,
    state,
    support,
)
from . import config as hbconfig
from .membership import (
    CommUp,
    Delivered,
    Log,
    Membership,
    NodeStatusChanged,
    PartitionHealed,
    PeerRestarted,
    RememberPeer,
    Transmit,
)
from .transport import Transport, TransportError
from .wire import T_STRING, Message

DEFAULT_CONFIG_DIR = "/etc/ha.d"
DEFAULT_STATE_DIR = "/var/lib/hbagent"
SOCKET_NAME = "hbagent.sock"
MAX_REQUEST = control.MAX_REQUEST
MAX_CLIENTS = 32  # control connections open at once; more are refused
REPLY_TIMEOUT_S = 0.5  # a client that does not read its answer is dropped, the loop goes on
FINAL_STATUSES = 2  # after shutdone, as 3.0.6 does (spec 8.8)
DATAGRAMS_PER_TURN = 256  # per medium per loop turn: a flood cannot starve ticks or the control socket
PERIODIC_S = 0.01  # timers and the status line at least this often (more when they are due)
FLOOD_TURNS, FLOOD_PAUSE_S = 4, 0.002  # after this many turns in a row with datagrams only: let them gather
RECEIVE_BUFFER_BYTES = 1024 * 1024  # per medium socket
MAX_LOG_LINE = 2000
WORKER_STOP_WAIT_S = 120.0  # fail-safe exit: how long a running resource script may still take
EXIT_REBOOT = 3  # stop_failure reboot: exited without releasing, the node is being rebooted

HB_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warning": "WARN",
    "error": "ERROR",
    "crit": "CRIT",
    "critical": "CRIT",
}
PY_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR,
             "crit": logging.CRITICAL, "critical": logging.CRITICAL}  # fmt: skip


class StartupError(RuntimeError):
    """The daemon cannot start; the message says why (configuration, state dir, media)."""


# --------------------------------------------------------------------------------------------
# persistent state and identity


def local_node_name(config_dir: str, override: str | None = None) -> str:
    """--node, else the first line of <config-dir>/nodeinfo, else `uname -n`; lower-cased."""
    if override:
        return override.strip().lower()
    with contextlib.suppress(hbconfig.ConfigErrors):  # a FIFO or a huge file there is not read
        text, _mode = hbconfig.read_config_file(os.path.join(config_dir, "nodeinfo"))
        first = text.split("\n", 1)[0].strip()
        if first:
            return first.lower()
    return os.uname().nodename.lower()


def parameters(ha_cf) -> dict[str, str]:
    """What `cl_status hbparameter -p NAME` prints: the value as configured, else 3.0.6's default."""
    params = {
        "keepalive": "1000ms", "deadtime": "30000ms", "hopfudge": "1", "baud": "19200", "udpport": "694",
        "auto_failback": "legacy", "hbgenmethod": "file", "realtime": "true", "msgfmt": "classic",
        "conn_logd_time": "60", "log_badpack": "true", "syslogmsgfmt": "true", "coredumps": "true",
        "pacemaker": "false", "autojoin": "none", "uuidfrom": "file", "compression": "zlib",
        "compression_threshold": "2", "traditional_compression": "no", "max_rexmit_delay": "250",
        "memreserve": "6500", "cluster": "linux-ha", "debug": "0",
    }  # fmt: skip
    params["warntime"] = f"{ha_cf.warntime_ms}ms"
    params["initdead"] = f"{ha_cf.initdead_ms}ms"
    params["deadping"] = f"{ha_cf.deadping_ms}ms"
    for name, value, _line in ha_cf.directives:
        if name not in ("node", "bcast", "mcast", "ucast", "ping", "respawn", "apiauth", "stonith_host"):
            params[name] = value
    params["hbversion"] = HEARTBEAT_VERSION
    return params


# --------------------------------------------------------------------------------------------
# logging


def _clean(text: str) -> str:
    """One line of printable ASCII: what a peer or an attacker put in a field cannot forge log lines
    (newlines), move the terminal (escapes), or fail to encode."""
    text = text[:MAX_LOG_LINE]
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if c.isascii() and c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)  # fmt: skip


class _PrivateFileHandler(logging.FileHandler):
    """The ha.cf log file: created 0600, an existing one loses group write and every right of others
    (it says who runs what where, and once held tokens); never opened through a symlink, never a FIFO."""

    def _open(self):
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(self.baseFilename, flags, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise OSError(errno.ELOOP, "is a symbolic link: refused", self.baseFilename) from None
            raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(errno.EINVAL, "not a regular file: refused", self.baseFilename)
            if info.st_mode & 0o027 and info.st_uid == os.geteuid():
                os.fchmod(fd, stat.S_IMODE(info.st_mode) & ~0o027)
            os.set_blocking(fd, True)
            return os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace")
        except BaseException:
            os.close(fd)
            raise


class HeartbeatLog:
    """Log lines in Heartbeat's words to stderr (journald adds time and unit) and the ha.cf logfile."""

    def __init__(self, node: str, stream=None, logfile: str | None = None, debugfile: str | None = None,
                 debug: bool = False):  # fmt: skip
        self.logger = logging.getLogger(f"hbagent.daemon.{id(self)}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        console = logging.StreamHandler(stream or sys.stderr)
        console.setLevel(logging.DEBUG if debug else logging.INFO)
        console.setFormatter(logging.Formatter("%(message)s"))
        self.logger.addHandler(console)
        pid = os.getpid()
        file_format = logging.Formatter(f"%(asctime)s {node} hbagent: [{pid}]: %(message)s", "%b %d %H:%M:%S")
        for path, level in ((logfile, logging.INFO), (debugfile, logging.DEBUG)):
            if path and path != "/dev/null":
                try:
                    handler = _PrivateFileHandler(path)
                except OSError as exc:
                    self.logger.warning("WARN: cannot open log file %s: %s", path, exc.strerror)
                    continue
                handler.setLevel(level)
                handler.setFormatter(file_format)
                self.logger.addHandler(handler)

    def __call__(self, level: str, text: str) -> None:
        self.logger.log(
            PY_LEVELS.get(level, logging.INFO), "%s: %s", HB_LEVELS.get(level, level), _clean(text)
        )

    def close(self) -> None:
        for handler in list(self.logger.handlers):
            handler.close()
            self.logger.removeHandler(handler)


# --------------------------------------------------------------------------------------------
# the daemon


@dataclass
class _Client:
    sock: socket.socket
    buffer: bytes = b""
    deadline: float | None = None  # for answers that wait on the cluster
    waiting_for: str | None = None


@dataclass
class _Pending:
    client: _Client
    request: dict = field(default_factory=dict)


class Daemon:
    def __init__(self, config_dir: str = DEFAULT_CONFIG_DIR, state_dir: str = DEFAULT_STATE_DIR,
                 node: str | None = None, *, manage_resources: bool = True, debug: bool = False,
                 stream=None, heartbeat_state_dir: str | None = None):  # fmt: skip
        try:
            self.cluster = hbconfig.load_config(config_dir)
            self.agent_conf = agentconf.load_agent_conf(config_dir, self.cluster.resources)
        except hbconfig.ConfigErrors as exc:
            raise StartupError(f"Heartbeat not started: configuration error.\n{exc}") from None
        self.ha_cf = self.cluster.ha_cf
        self.group_defs = {g.key: g for g in self.cluster.resources}  # read by the worker thread
        self.config_dir, self.state_dir = config_dir, state_dir
        self.node = local_node_name(config_dir, node)
        if self.node not in self.ha_cf.nodes:
            raise StartupError(
                f"Current node [{self.node}] not in configuration! (nodes of {self.ha_cf.path}: "
                f"{' '.join(self.ha_cf.nodes)}; set --node or {config_dir}/nodeinfo)"
            )
        if not self.ha_cf.media:
            raise StartupError(
                f"{self.ha_cf.path}: no bcast, mcast or ucast medium (hbagent drives only those)"
            )
        self.log_stream, self.debug = stream, debug
        self.log = HeartbeatLog(self.node, stream, self.ha_cf.logfile, self.ha_cf.debugfile, debug)
        try:
            state.secure_dir(state_dir, 0o700)
            if heartbeat_state_dir:
                state.secure_dir(heartbeat_state_dir, 0o755)
            self.generation = state.next_generation(state_dir, heartbeat_state_dir)
            self.uuid = state.load_uuid(state_dir, heartbeat_state_dir)
            peers_seen = state.load_peers(state_dir)
        except OSError as exc:
            where = exc.filename or state_dir
            raise StartupError(f"state directory {where}: {exc.strerror or exc}") from None
        self.membership = Membership(self.ha_cf, self.cluster.authkeys, self.node, self.uuid, self.generation,
                                     loadavg=_loadavg, peers_seen=peers_seen)  # fmt: skip
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.resources = self._resource_manager() if manage_resources else None
        self.sentry = splitbrain.SplitBrainShell(
            self.node, self.ha_cf, self.agent_conf, self.resources, log=self._log_line,
            rsc=lambda actions: self._handle_rsc(actions, time.monotonic()), jobs=self.jobs,
            wake=lambda: self.wake_w.send(b"f"),
        )  # fmt: skip
        self.executor = None
        self.transport = Transport(self.ha_cf.media, self.log)
        self.selector = selectors.DefaultSelector()
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.clients: dict[int, _Client] = {}
        self.pending_cstatus: dict[str, _Client] = {}
        self.pending_reply: list[_Client] = []
        self.query_ids = itertools.count(os.getpid() * 1000)
        self.signals: list[int] = []
        self.shutting_down = False
        self.exit_code: int | None = None
        self.sd_status = ""
        self.limiter = ratelimit.LogLimiter()
        self.input_errors: Counter[str] = Counter()  # inputs dropped after an unexpected error, by kind
        self.failing_since: dict[str, float] = {}  # loop step -> when it started failing on every turn
        self.fail_safe_at: float | None = None
        self.peers_dirty = False
        self.worker: threading.Thread | None = None

    def _log_line(self, level: str, text: str) -> None:
        self.log(level, text)  # the log object is replaced by a reload: look it up at each call

    def _failback_veto(self) -> bool:
        return self.sentry.failback_veto()  # the sentry exists only once the resource manager does

    def _resource_manager(self):
        from . import rscmgr  # imported here: a membership-only agent does not need it

        if self.ha_cf.crm_enabled:
            self.log("warning", "crm is on: haresources mode only, running membership without resources")
            return None
        if len(self.ha_cf.nodes) != 2:
            self.log("warning", "resource management needs exactly two nodes: running membership only")
            return None
        return rscmgr.ResourceManager(self.node, self.ha_cf.nodes, self.cluster.resources,
                                      self.ha_cf.auto_failback, mbb_groups=self.agent_conf.make_before_break,
                                      clock=time.monotonic,
                                      guarded_takeover=splitbrain.guarded(self.node, self.ha_cf, self.agent_conf),
                                      failback_veto=self._failback_veto)  # fmt: skip

    # -- main loop --------------------------------------------------------------------------

    def run(self) -> int:
        try:
            self.transport.open()
        except TransportError as exc:
            self.log("error", f"Heartbeat not started: cannot open medium: {exc.strerror or exc}")
            return 1
        try:
            control_sock = self._open_control_socket()
        except OSError as exc:
            self.log(
                "error", f"Heartbeat not started: control socket {self._socket_path()}: {exc.strerror or exc}"
            )
            self.transport.close()
            return 1
        wake_r, self.wake_w = socket.socketpair()
        wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.selector.register(wake_r, selectors.EVENT_READ, ("wake", None))
        self.selector.register(control_sock, selectors.EVENT_READ, ("control", None))
        for sock, link in self.transport.readers():
            _grow_receive_buffer(sock)
            self.selector.register(sock, selectors.EVENT_READ, ("medium", link))
        for warning in support.startup_warnings(self.cluster, self.agent_conf):
            self.log("warning", warning)
        icmp = self.sentry.open(time.monotonic())
        if icmp is not None:
            self.selector.register(icmp, selectors.EVENT_READ, ("icmp", None))
        old_handlers = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        }
        old_wakeup = signal.set_wakeup_fd(self.wake_w.fileno(), warn_on_full_buffer=False)
        self.worker = threading.Thread(target=self._worker, name="hbagent-resources", daemon=True)
        self.worker.start()  # before going realtime: the worker and the scripts it runs stay ordinary
        self._go_realtime()
        self.log("info", f"Configuration validated. Starting hbagent {__version__} (heartbeat {HEARTBEAT_VERSION} "
                         f"protocol) on node {self.node}, generation {self.generation}")  # fmt: skip
        try:
            now = time.monotonic()
            self._handle(self.membership.start(now), now)
            self.sd_status = self.summary()
            sdnotify.ready(self.sd_status)
            self._loop()
        except Exception as exc:  # a bug in the loop machinery itself: never leave holding resources
            self._emergency_exit(f"event loop failed: {type(exc).__name__}: {exc}", traceback.format_exc())
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            self.jobs.put(None)
            self._close(control_sock, wake_r)
        return self.exit_code

    def _loop(self) -> None:
        watchdog = sdnotify.watchdog_interval()
        watchdog_due = 0.0
        periodic_due = 0.0
        busy_turns = 0
        while self.exit_code is None:
            now = time.monotonic()
            if watchdog and now >= watchdog_due:
                sdnotify.watchdog()
                watchdog_due = now + watchdog / 2
            wake = min(self.membership.next_wakeup(now), self.sentry.next_wakeup(now))
            timeout = max(0.0, min(wake - now, 1.0))
            only_datagrams, datagrams = True, 0
            for key, _mask in self.selector.select(timeout):
                kind, link = key.data
                if kind == "medium":
                    for data in _receive(key.fileobj, DATAGRAMS_PER_TURN):
                        datagrams += 1
                        self._guarded("packet", self._on_datagram, data, link)
                    continue
                only_datagrams = False
                if kind == "icmp":
                    self._guarded("ping reply", self.sentry.icmp_readable, time.monotonic())
                elif kind == "control":
                    self._guarded("control connection", self._accept, key.fileobj)
                elif kind == "client":
                    self._guarded("control request", self._client_readable, link)
                else:
                    with contextlib.suppress(OSError):
                        while key.fileobj.recv(512):
                            pass
            now = time.monotonic()
            # Datagrams turn after turn is a flood (a quiet LAN brings a few a second): one turn for many
            # of them instead of a wake-up each (keepalives and answers wait FLOOD_PAUSE_S at most), and
            # the periodic work (timers, status line) when something else happened, when a timer is
            # due, or every PERIODIC_S, not per packet.
            busy_turns = busy_turns + 1 if only_datagrams and datagrams else 0
            if busy_turns >= FLOOD_TURNS:
                time.sleep(FLOOD_PAUSE_S)
            due = min(self.membership.next_wakeup(now), self.sentry.next_wakeup(now))
            if only_datagrams and now < periodic_due and now < due:
                continue
            periodic_due = now + PERIODIC_S
            self._step("resource results", self._drain_results, now)
            self._process_signals(now)
            self._step("membership", lambda t: self._handle(self.membership.tick(t), t), now)
            self._step("split-brain guard", self.sentry.tick, now)
            if self.resources is not None:
                self._step("resources", lambda t: self._handle_rsc(self.resources.tick(t), t), now)
            self._step("control clients", self._expire_clients, now)
            self._step("status", lambda _t: self._notify_status(), now)
            if self.peers_dirty:
                self._save_peers()

    # -- robustness: one bad input never ends the process ------------------------------------

    def _guarded(self, kind: str, func, *args) -> bool:
        """Handle one input; an unexpected error drops that input, counts it and logs it (rate-limited)."""
        try:
            func(*args)
            return True
        except Exception as exc:
            self.input_errors[kind] += 1
            try:
                detail = f"{type(exc).__name__}: {exc}"[:300]
            except Exception:  # str() of the exception failed too
                detail = type(exc).__name__
            text = self.limiter.text(("input", kind), f"dropped one {kind} after an unexpected error: {detail}",
                                     time.monotonic())  # fmt: skip
            if text is not None:
                self.log("error", text)
                self.log("debug", traceback.format_exc())
            return False

    def _step(self, name: str, func, now: float) -> None:
        """A periodic step of the loop. Failing once drops that turn; failing on every turn for half a
        deadtime means the node cannot do its job (keepalives, resource timers): it gives its resources
        up and leaves, rather than be declared dead by the peer while still holding them."""
        if self._guarded(name, func, now):
            self.failing_since.pop(name, None)
            return
        since = self.failing_since.setdefault(name, now)
        if now - since >= self.ha_cf.deadtime_ms / 2000:
            self._fail_safe(now, f"{name} has failed on every turn for {now - since:.1f} s")

    def _fail_safe(self, now: float, reason: str) -> None:
        """First the graceful way (rscmgr releases, `shutdone`); if that does not end within a deadtime,
        or cannot even begin, the emergency way."""
        if self.fail_safe_at is None:
            self.fail_safe_at = now
            self.log("crit", f"{reason}: giving up resources and leaving the cluster")
            if not self.shutting_down:
                try:
                    self._begin_shutdown(now)
                    return
                except Exception as exc:
                    self._emergency_exit(f"{reason}; graceful shutdown failed: {type(exc).__name__}: {exc}")
                    return
        if now - self.fail_safe_at >= self.ha_cf.deadtime_ms / 1000:
            self._emergency_exit(f"{reason}; the graceful shutdown did not end within deadtime")

    def _emergency_exit(self, reason: str, details: str = "") -> None:
        """Last resort: stop every group here (whatever rscmgr believes), tell the peer, exit 1."""
        if self.exit_code is not None:
            return
        self.exit_code = 1
        with contextlib.suppress(Exception):
            self.log("crit", f"{reason}: stopping every resource group here, then exiting")
            if details:
                self.log("debug", details)
        with contextlib.suppress(queue.Empty):  # queued starts must not run now
            while True:
                self.jobs.get_nowait()
        self.jobs.put(None)
        if self.worker is not None and self.worker is not threading.current_thread():
            self.worker.join(WORKER_STOP_WAIT_S)  # a start in progress must finish before its stop
        if self.resources is not None:
            from . import rscmgr

            for group in reversed(list(self.group_defs.values())):
                try:
                    result = self._executor().stop_group(group, rscmgr.PART_ALL)
                    if not result.ok:
                        self.log("crit", f"emergency stop of {group.key} failed")
                except Exception as exc:
                    with contextlib.suppress(Exception):
                        self.log("crit", f"emergency stop of {group.key} failed: {exc!r}")
        now = time.monotonic()
        with contextlib.suppress(Exception):
            self._send_now(Message.of(t="shutdone", st="dead"), now)
        for _round in range(FINAL_STATUSES):  # as after a graceful stop (3.0.6 hb_mcp_final_shutdown)
            with contextlib.suppress(Exception):
                self._send_now(None, now)

    def _send_now(self, msg: Message | None, now: float) -> None:
        actions = self.membership.send_status(now) if msg is None else self.membership.send(msg, now)
        for action in actions:
            if isinstance(action, Transmit):
                self.transport.send(action.data)

    def _on_datagram(self, data: bytes, link: str) -> None:
        now = time.monotonic()
        self._handle(self.membership.receive(data, link, now), now)

    def _save_peers(self) -> None:
        self.peers_dirty = False
        try:
            state.save_peers(self.state_dir, self.membership.peer_marks())
        except OSError as exc:
            text = self.limiter.text("save peers", f"cannot save {state.PEERS_FILE}: {exc.strerror or exc}",
                                     time.monotonic())  # fmt: skip
            if text is not None:
                self.log("error", text)

    def _go_realtime(self) -> None:
        """ha.cf `realtime` (default on, as in 3.0.6): the event loop thread, and only it, runs
        SCHED_RR at the lowest priority, so keepalives and death detection keep their pace on a busy
        node. Linux applies the policy per thread; resource scripts never inherit it."""
        value = str(self.ha_cf.get("realtime", "true")).lower()
        if value not in ("true", "on", "yes", "y", "1") or not hasattr(os, "sched_setscheduler"):
            return
        try:
            policy = os.SCHED_RR
            os.sched_setscheduler(0, policy, os.sched_param(os.sched_get_priority_min(policy)))
        except OSError as exc:
            self.log("warning", f"Unable to set realtime scheduling: {exc.strerror or exc} (realtime off)")

    def _on_signal(self, signum, _frame) -> None:
        self.signals.append(signum)  # acted upon in the loop, not inside the handler

    def _process_signals(self, now: float) -> None:
        while self.signals:
            self._guarded("signal", self._on_one_signal, self.signals.pop(0), now)

    def _on_one_signal(self, signum: int, now: float) -> None:
        if signum == signal.SIGHUP:
            self.reload_config(now)
        elif self.shutting_down:
            self.log("info", "Heartbeat shutdown already underway.")
        else:
            self._begin_shutdown(now)

    def _close(self, control, wake_r) -> None:
        for client in list(self.clients.values()):
            self._drop_client(client)
        self.selector.close()
        control.close()
        with contextlib.suppress(OSError):
            os.unlink(self._socket_path())
        wake_r.close()
        self.wake_w.close()
        if self.peers_dirty:
            self._save_peers()
        self.transport.close()
        self.sentry.close()
        if self.executor is not None:
            self.executor.close()
        self.log("info", f"{self.node} Heartbeat shutdown complete.")
        self.log.close()

    # -- membership and resource actions ----------------------------------------------------

    def _handle(self, actions, now: float) -> None:
        for action in actions:
            if isinstance(action, Transmit):
                self.transport.send(action.data)
            elif isinstance(action, Log):
                self.log(action.level, action.text)
            elif isinstance(action, Delivered):
                self._delivered(action, now)
            elif isinstance(action, CommUp):
                if self.resources is not None:
                    self._handle_rsc(self.resources.comm_up(now), now)
                self.sentry.comm_up(now)
            elif isinstance(action, NodeStatusChanged) and self.resources is not None:
                self.sentry.peer_status(action.old, action.new, now)  # first: it notes what we held
                self._handle_rsc(self.resources.peer_status(action.node, action.new, now), now)
            elif isinstance(action, RememberPeer):
                self.peers_dirty = True  # saved once per loop turn
            elif isinstance(action, PartitionHealed):
                self.sentry.healed(now)
            elif isinstance(action, PeerRestarted):
                self.sentry.peer_restarted()
            # LinkStatusChanged: only cl_status cares, through snapshots

    def _delivered(self, action: Delivered, now: float) -> None:
        msg = action.msg
        if msg.get("t") == "respond-cstatus":
            client = self.pending_cstatus.pop(str(msg.get("to_id")), None)
            if client is not None:
                self._reply(client, {"ok": True, "status": msg.get("cs", "offline")})
            return
        if self.resources is not None:
            fields = [(name, value) for ftype, name, value in msg if ftype == T_STRING]
            self._handle_rsc(self.resources.message(action.node, fields, now), now)
            self.sentry.message(dict(reversed(fields)), now)  # first occurrence wins, as in rscmgr

    def _handle_rsc(self, actions, now: float) -> None:
        from . import rscmgr

        for action in actions:
            if isinstance(action, rscmgr.Send):
                msg = Message([(T_STRING, name, value) for name, value in action.fields])
                self._handle(self.membership.send(msg, now), now)
            elif isinstance(action, rscmgr.Log):
                self.log(action.level, action.text)
            elif isinstance(action, (rscmgr.Acquire, rscmgr.Release)):
                self.jobs.put(action)
            elif isinstance(action, rscmgr.Unannounce):
                self._unannounce(action.groups)
            elif isinstance(action, rscmgr.Reply):
                if self.pending_reply:
                    self._reply(self.pending_reply.pop(0), {"ok": action.ok, "text": action.text})
            elif isinstance(action, rscmgr.ShutdownDone):
                self._finish_shutdown(now, action.ok, action.failed)
            elif isinstance(action, rscmgr.ClearTakeover):
                self.sentry.takeover_requested(now)
            elif isinstance(action, splitbrain.Reboot):
                self._reboot(action)

    # -- resource work, off the loop --------------------------------------------------------

    def _executor(self):
        from . import resources

        if self.executor is None:
            paths = resources.Paths(
                resource_d=os.path.join(self.config_dir, "resource.d"), ha_dir=self.config_dir
            )
            self.executor = resources.ResourceExecutor(log=self.log, paths=paths)
        return self.executor

    def _worker(self) -> None:
        from . import rscmgr

        started_with: dict = {}  # key -> the definition a running group was started with
        while True:
            job = self.jobs.get()
            if job is None:
                return
            executor = self._executor()
            if isinstance(job, splitbrain.ReannounceJob):
                for key in job.groups:
                    with contextlib.suppress(Exception):  # best effort: ARP announcements only
                        executor.reannounce(self.group_defs[key])
                continue
            acquire = isinstance(job, rscmgr.Acquire)
            run = executor.start_group if acquire else executor.stop_group
            failed, stop_failed = [], []
            for key in job.groups:
                current = self.group_defs[key]  # a reload may have changed it since
                group = current if acquire else started_with.get(key, current)
                try:
                    result = run(group, job.part)
                    ok = result.ok
                    if any(step.action == "stop" and not step.outcome.ok for step in result.steps):
                        stop_failed.append(key)
                except Exception as exc:  # a bug in a runner must not leave the cluster waiting forever
                    self.log("error", f"{type(job).__name__} {key}: {exc!r}")
                    ok = False
                if not ok:
                    failed.append(key)
                if acquire:
                    started_with[key] = group
                elif ok and job.part == rscmgr.PART_ALL:
                    started_with.pop(key, None)
            self.results.put((job, failed, stop_failed))
            with contextlib.suppress(OSError):
                self.wake_w.send(b"r")

    def _unannounce(self, keys) -> None:
        from . import resources

        executor = self.executor
        if executor is None:
            return  # nothing ever started here, so nothing is announcing
        for key in keys:
            for resource in self.group_defs[key].resources:
                if resources.is_ip_resource(resource):
                    with contextlib.suppress(resources.ResourceError, ValueError):
                        executor.stop_announcing(resource)

    def _drain_results(self, now: float) -> None:
        from . import rscmgr

        while not self.results.empty():
            job, failed, stop_failed = self.results.get()
            if stop_failed:
                self.sentry.stop_failed(stop_failed, now)
            done = (
                self.resources.acquire_done
                if isinstance(job, rscmgr.Acquire)
                else self.resources.release_done
            )
            self._handle_rsc(done(job.groups, not failed, failed, now), now)

    # -- reload -----------------------------------------------------------------------------

    def reload_config(self, now: float) -> tuple[bool, list[str]]:
        """Re-read every file; apply all of it or nothing. Returns (applied, what was logged)."""
        lines: list[str] = []

        def say(level: str, text: str) -> None:
            lines.append(text)
            self.log(level, text)

        sdnotify.notify("RELOADING=1", f"MONOTONIC_USEC={int(time.monotonic() * 1_000_000)}",
                        "STATUS=reloading configuration")  # fmt: skip
        try:
            applied = self._reload(now, say)
        except Exception as exc:  # whatever the files hold, the running configuration stays
            self.input_errors["reload"] += 1
            say(
                "error",
                f"Reload failed: {type(exc).__name__}: {str(exc)[:300]}; keeping the running configuration.",
            )
            self.log("debug", traceback.format_exc())
            applied = False
        finally:
            sdnotify.ready(self.summary())
        return applied, lines

    def _reload(self, now: float, say) -> bool:
        say("info", f"Reloading configuration from {self.config_dir}")
        try:
            new = hbconfig.load_config(self.config_dir)
            new_agent = agentconf.load_agent_conf(self.config_dir, new.resources)
            if self.node not in new.ha_cf.nodes:
                raise hbconfig.ConfigErrors([hbconfig.ConfigError(new.ha_cf.path, None,
                                                                  f"Current node [{self.node}] not in configuration")])  # fmt: skip
        except hbconfig.ConfigErrors as exc:
            for error in exc.errors:
                say("error", str(error))
            say("error", "Reload failed: configuration error; keeping the running configuration.")
            return False
        plan = reload.plan_reload(self.cluster, new, self.agent_conf.make_before_break,
                                  new_agent.make_before_break, self.agent_conf.allow_crc,
                                  new_agent.allow_crc)  # fmt: skip
        old_fence, new_fence = self.agent_conf.fence_command, new_agent.fence_command
        if (old_fence and old_fence[0]) != (new_fence and new_fence[0]):
            plan.refusals.append(f"{new_agent.path}: fence_command changed: restart hbagent to apply")
        if new_agent.reboot_on_stop_failure != self.agent_conf.reboot_on_stop_failure:
            plan.refusals.append(f"{new_agent.path}: stop_failure changed: restart hbagent to apply")
        if not plan.ok:
            for refusal in plan.refusals:
                say("error", refusal)
            say("error", "Reload refused; keeping the running configuration.")
            return False
        if not plan.changes:
            say("info", "Reload: configuration unchanged.")
            return True
        self.membership.reconfigure(new.ha_cf, new.authkeys, now)
        self.sentry.reconfigure(new.ha_cf)
        if self.resources is not None:
            self.resources.reconfigure(new.resources, new.ha_cf.auto_failback, new_agent.make_before_break)
        self.group_defs = {g.key: g for g in new.resources}
        if (new.ha_cf.logfile, new.ha_cf.debugfile) != (self.ha_cf.logfile, self.ha_cf.debugfile):
            old_log = self.log
            self.log = HeartbeatLog(self.node, self.log_stream, new.ha_cf.logfile, new.ha_cf.debugfile,
                                    self.debug)  # fmt: skip
            self.transport.log = self.log
            if self.executor is not None:
                self.executor.log = self.log
            old_log.close()
        self.cluster, self.ha_cf, self.agent_conf = new, new.ha_cf, new_agent
        for change in plan.changes:
            say("info", f"Reload: {change}")
        say("info", "Configuration reloaded (no resource was moved).")
        return True

    # -- systemd status line ----------------------------------------------------------------

    def summary(self) -> str:
        """One line for `systemctl status`: who is up, what we hold."""
        peers = [f"{n} {self.membership.node_status(n)}" for n in self.ha_cf.nodes if n != self.node]
        text = f"{self.node} {self.membership.status}; " + ", ".join(peers)
        if self.shutting_down:
            return text + "; shutting down, releasing resources"
        blocked = self.sentry.blocked()
        if blocked:
            text += f"; TAKEOVER BLOCKED: {blocked}"
        if self.resources is not None:
            held = [g["key"] for g in self.resources.groups_status() if self.node in g["held_by"]]
            text += f"; resources {self.resources.rscstatus()}" + (f": {' '.join(held)}" if held else "")
        return text

    def _notify_status(self) -> None:
        text = self.summary()
        if text != self.sd_status:
            self.sd_status = text
            sdnotify.status(text)

    # -- shutdown ---------------------------------------------------------------------------

    def _begin_shutdown(self, now: float) -> None:
        self.shutting_down = True
        sdnotify.stopping(f"node {self.node}: releasing resources")
        self.log("info", "Received shutdown request: giving up resources, then leaving the cluster.")
        self._handle(self.membership.send_status(now), now)
        if self.resources is None:
            self._handle(self.membership.send(Message.of(t="shutdone", st="dead"), now), now)
            self._finish_shutdown(now, True, ())
        else:
            from . import rscmgr

            # the Reply answers the request itself: nobody waits for it on the control socket
            actions = [a for a in self.resources.shutdown(now) if not isinstance(a, rscmgr.Reply)]
            self._handle_rsc(actions, now)

    def _finish_shutdown(self, now: float, ok: bool, failed) -> None:
        for _round in range(FINAL_STATUSES):
            self._handle(self.membership.send_status(now), now)
        if not ok:
            self.log("crit", f"Resource STOP failure ({', '.join(failed)}): exiting with an error")
        self.exit_code = 0 if ok else 1

    # -- control socket ---------------------------------------------------------------------

    def _socket_path(self) -> str:
        return os.path.join(self.state_dir, SOCKET_NAME)

    def _open_control_socket(self) -> socket.socket:
        path = self._socket_path()
        if len(path.encode()) > 107:  # sun_path
            raise OSError("path longer than 107 bytes; use a shorter --state-dir")
        state.secure_dir(self.state_dir, 0o700, create=False)  # still ours, still not a symlink
        with contextlib.suppress(FileNotFoundError):
            info = os.lstat(path)
            if not (stat.S_ISSOCK(info.st_mode) or stat.S_ISLNK(info.st_mode)):
                raise OSError(
                    errno.EEXIST, f"{path} exists and is not a socket: refused (remove it yourself)"
                )
            os.unlink(path)  # an old socket, or a symlink someone left: removed, never followed
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            server.bind(path)
        finally:
            os.umask(old_umask)
        server.listen(16)
        server.setblocking(False)
        return server

    def _accept(self, server: socket.socket) -> None:
        try:
            conn, _peer = server.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError as exc:  # EMFILE, ENOBUFS...: the connection waits in the backlog
            text = self.limiter.text("accept", f"control socket: cannot accept: {exc.strerror or exc}",
                                     time.monotonic())  # fmt: skip
            if text is not None:
                self.log("error", text)
            return
        if len(self.clients) >= MAX_CLIENTS:
            with contextlib.suppress(OSError):
                conn.setblocking(False)
                conn.send(b'{"ok": false, "error": "too many control connections"}\n')
            conn.close()
            return
        conn.setblocking(False)
        client = _Client(conn, deadline=time.monotonic() + 10)
        self.clients[conn.fileno()] = client
        self.selector.register(conn, selectors.EVENT_READ, ("client", client))

    def _client_readable(self, client: _Client) -> None:
        try:
            chunk = client.sock.recv(MAX_REQUEST + 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop_client(client)
            return
        if client.waiting_for is not None or client in self.pending_reply:
            return  # already being served: more bytes change nothing
        client.buffer += chunk
        if b"\n" not in client.buffer:
            if len(client.buffer) > MAX_REQUEST:
                self._reply(client, {"ok": False, "error": "request too long"})
            return
        line = client.buffer.split(b"\n", 1)[0]
        client.buffer = b""
        try:
            request = control.parse_request(line)
        except control.BadRequest as exc:
            self._reply(client, {"ok": False, "error": str(exc)})
            return
        try:
            self._serve(client, request)
        except Exception:
            self._reply(client, {"ok": False, "error": "internal error (see the log)"})
            raise  # counted and logged by _guarded

    def _serve(self, client: _Client, request: dict) -> None:
        """`request` comes from control.parse_request: its fields are checked."""
        now = time.monotonic()
        cmd = request["cmd"]
        if cmd == "status":
            self._reply(client, {"ok": True, **self.status(now)})
        elif cmd == "clientstatus":
            self._clientstatus(client, request, now)
        elif cmd == "reload":
            ok, lines = self.reload_config(now)
            self._reply(client, {"ok": ok, "text": "\n".join(lines)})
        elif cmd in ("standby", "takeover"):
            if self.shutting_down:
                self._reply(client, {"ok": False, "text": "hbagent is shutting down"})
                return
            if self.resources is None:
                self._reply(client, {"ok": False, "text": "resource management is off on this node"})
                return
            which = request["which"]
            client.deadline = now + 30
            self.pending_reply.append(client)
            self._handle_rsc(getattr(self.resources, cmd)(which, now), now)
        else:
            self._reply(client, {"ok": False, "error": f"unknown command {cmd!r}"})

    def _clientstatus(self, client: _Client, request: dict, now: float) -> None:
        node = request["node"]
        if self.membership.node_status(node) is None:
            self._reply(client, {"ok": False, "error": "unknown node"})
            return
        if node == self.node:
            self._reply(client, {"ok": True, "status": "offline"})  # no API clients run here
            return
        query_id = str(next(self.query_ids))
        query = Message.of(t="query-cstatus", dest=node, cn=request["client"], from_id=query_id)
        actions = self.membership.send(query, now)  # may raise WireError: nothing is pending yet
        client.deadline = now + request["timeout_ms"] / 1000
        client.waiting_for = query_id
        self.pending_cstatus[query_id] = client
        self._handle(actions, now)

    def _expire_clients(self, now: float) -> None:
        for client in list(self.clients.values()):
            if client.deadline is not None and now > client.deadline:
                if client.waiting_for:
                    self.pending_cstatus.pop(client.waiting_for, None)
                if client in self.pending_reply:
                    self.pending_reply.remove(client)
                self._reply(client, {"ok": False, "error": "timeout"})

    def _reply(self, client: _Client, payload: dict) -> None:
        with contextlib.suppress(OSError, ValueError):
            client.sock.settimeout(REPLY_TIMEOUT_S)
            client.sock.sendall(json.dumps(payload).encode() + b"\n")
        if client.waiting_for:
            self.pending_cstatus.pop(client.waiting_for, None)
        if client in self.pending_reply:
            self.pending_reply.remove(client)
        self._drop_client(client)

    def _drop_client(self, client: _Client) -> None:
        fd = client.sock.fileno()
        if fd >= 0 and self.clients.pop(fd, None) is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(client.sock)
        client.sock.close()

    def status(self, now: float) -> dict:
        return {
            "node": self.node,
            "groups": self.resources.groups_status() if self.resources is not None else [],
            "make_before_break": list(self.agent_conf.make_before_break),
            "version": __version__,
            "heartbeat_version": HEARTBEAT_VERSION,
            "pid": os.getpid(),
            "config_dir": self.config_dir,
            "managed_by": "haresources" if self.resources is not None else "none",
            "membership": self._membership_snapshot(now),
            "split_brain": self.sentry.snapshot(),
            "rscstatus": self.resources.rscstatus() if self.resources is not None else "none",
            "resources": self.resources.snapshot() if self.resources is not None else None,
            "parameters": parameters(self.ha_cf),
            "shutting_down": self.shutting_down,
            "input_errors": dict(self.input_errors),
            "summary": self.summary(),
        }

    def _membership_snapshot(self, now: float) -> dict:
        """Membership plus the ping nodes, in ha.cf order (what cl_status lists)."""
        snap = self.membership.snapshot(now)
        order = splitbrain.node_order(self.ha_cf)
        nodes = snap["nodes"] + self.sentry.pings.snapshot()
        snap["nodes"] = sorted(
            nodes, key=lambda e: order.index(e["name"]) if e["name"] in order else len(order)
        )
        return snap

    # -- failed STOP with `stop_failure reboot` ----------------------------------------------

    def _reboot(self, action) -> None:
        """3.0.6's RecoverFromFailedStop: stop heartbeating at once (the peer declares us dead, fences,
        takes over) and reboot. Never returns."""
        self.log("crit", f"{action.why}. Reboot required!")
        self.log("crit", "Killing hbagent ungracefully!")
        try:
            proc = subprocess.Popen(list(action.argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
            rc = proc.wait(5)
            if rc != 0:
                self.log("crit", f"Unable to force reboot ({' '.join(action.argv)}: exit code {rc}).")
        except subprocess.TimeoutExpired:
            pass  # rebooting
        except OSError as exc:
            self.log("crit", f"Unable to force reboot ({' '.join(action.argv)}: {exc.strerror or exc}).")
        self.log.close()
        os._exit(EXIT_REBOOT)


def _grow_receive_buffer(sock: socket.socket, size: int = RECEIVE_BUFFER_BYTES) -> None:
    """Room for a burst: under a flood the loop reads in batches (FLOOD_PAUSE_S apart), and a full
    socket buffer drops the peer's keepalives along with the rest. Root may go beyond rmem_max."""
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, option, size)
                return


_RECV_BUFFER = bytearray(65536)  # the largest UDP payload; one buffer, not a fresh 256 kB per datagram


def _receive(sock: socket.socket, limit: int) -> list[bytes]:
    """Up to `limit` datagrams waiting on `sock` (the rest wait for the next turn of the loop)."""
    datagrams = []
    view = memoryview(_RECV_BUFFER)
    while len(datagrams) < limit:
        try:
            size = sock.recv_into(_RECV_BUFFER)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            break  # e.g. an ICMP error reported on the socket: nothing to read
        datagrams.append(bytes(view[:size]))
    return datagrams


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as handle:
            return handle.read().strip() or "0.00 0.00 0.00 1/1 1"
    except OSError:
        return "0.00 0.00 0.00 1/1 1"
