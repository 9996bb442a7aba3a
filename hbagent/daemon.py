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
  Heartbeat's own /var/lib/heartbeat (state.py), so the node can switch engines either way.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import queue
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from . import HEARTBEAT_VERSION, __version__, agentconf, reload, sdnotify, splitbrain, state, support
from . import config as hbconfig
from .membership import (
    CommUp,
    Delivered,
    Log,
    Membership,
    NodeStatusChanged,
    PartitionHealed,
    PeerRestarted,
    Transmit,
)
from .transport import Transport, TransportError
from .wire import T_STRING, Message

DEFAULT_CONFIG_DIR = "/etc/ha.d"
DEFAULT_STATE_DIR = "/var/lib/hbagent"
SOCKET_NAME = "hbagent.sock"
MAX_REQUEST = 4096
FINAL_STATUSES = 2  # after shutdone, as 3.0.6 does (spec 8.8)
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
    with contextlib.suppress(OSError):
        with open(os.path.join(config_dir, "nodeinfo")) as handle:
            first = handle.readline().strip()
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
                    handler = logging.FileHandler(path)
                except OSError as exc:
                    self.logger.warning("WARN: cannot open log file %s: %s", path, exc.strerror)
                    continue
                handler.setLevel(level)
                handler.setFormatter(file_format)
                self.logger.addHandler(handler)

    def __call__(self, level: str, text: str) -> None:
        self.logger.log(PY_LEVELS.get(level, logging.INFO), "%s: %s", HB_LEVELS.get(level, level), text)

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
            os.makedirs(state_dir, mode=0o700, exist_ok=True)
            if heartbeat_state_dir:
                os.makedirs(heartbeat_state_dir, mode=0o755, exist_ok=True)
            self.generation = state.next_generation(state_dir, heartbeat_state_dir)
            self.uuid = state.load_uuid(state_dir, heartbeat_state_dir)
        except OSError as exc:
            where = exc.filename or state_dir
            raise StartupError(f"state directory {where}: {exc.strerror or exc}") from None
        self.membership = Membership(self.ha_cf, self.cluster.authkeys, self.node, self.uuid, self.generation,
                                     loadavg=_loadavg)  # fmt: skip
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.resources = self._resource_manager() if manage_resources else None
        self.sentry = splitbrain.SplitBrainShell(
            self.node, self.ha_cf, self.agent_conf, self.resources, log=lambda lvl, text: self.log(lvl, text),
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
                                      failback_veto=lambda: self.sentry.failback_veto())  # fmt: skip

    # -- main loop --------------------------------------------------------------------------

    def run(self) -> int:
        try:
            self.transport.open()
        except TransportError as exc:
            self.log("error", f"Heartbeat not started: cannot open medium: {exc.strerror or exc}")
            return 1
        try:
            control = self._open_control_socket()
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
        self.selector.register(control, selectors.EVENT_READ, ("control", None))
        for sock, link in self.transport.readers():
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
        worker = threading.Thread(target=self._worker, name="hbagent-resources", daemon=True)
        worker.start()  # before going realtime: the worker and the scripts it runs stay ordinary
        self._go_realtime()
        self.log("info", f"Configuration validated. Starting hbagent {__version__} (heartbeat {HEARTBEAT_VERSION} "
                         f"protocol) on node {self.node}, generation {self.generation}")  # fmt: skip
        watchdog = sdnotify.watchdog_interval()
        watchdog_due = 0.0
        try:
            now = time.monotonic()
            self._handle(self.membership.start(now), now)
            self.sd_status = self.summary()
            sdnotify.ready(self.sd_status)
            while self.exit_code is None:
                now = time.monotonic()
                if watchdog and now >= watchdog_due:
                    sdnotify.watchdog()
                    watchdog_due = now + watchdog / 2
                wake = min(self.membership.next_wakeup(now), self.sentry.next_wakeup(now))
                timeout = max(0.0, wake - now)
                for key, _mask in self.selector.select(timeout):
                    kind, link = key.data
                    now = time.monotonic()
                    if kind == "medium":
                        for data in Transport.receive(key.fileobj):
                            self._handle(self.membership.receive(data, link, now), now)
                    elif kind == "icmp":
                        self.sentry.icmp_readable(now)
                    elif kind == "control":
                        self._accept(key.fileobj)
                    elif kind == "client":
                        self._client_readable(link)
                    else:
                        with contextlib.suppress(BlockingIOError):
                            while key.fileobj.recv(512):
                                pass
                now = time.monotonic()
                self._drain_results(now)
                self._process_signals(now)
                self._handle(self.membership.tick(now), now)
                self.sentry.tick(now)
                if self.resources is not None:
                    self._handle_rsc(self.resources.tick(now), now)
                self._expire_clients(now)
                self._notify_status()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            self.jobs.put(None)
            self._close(control, wake_r)
        return self.exit_code

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
            signum = self.signals.pop(0)
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
        finally:
            sdnotify.ready(self.summary())
        return applied, lines

    def _reload(self, now: float, say) -> bool:
        say("info", f"Reloading configuration from {self.config_dir}")
        try:
            new = hbconfig.load_config(self.config_dir)
            new_agent = agentconf.load_agent_conf(self.config_dir, new.resources)
        except hbconfig.ConfigErrors as exc:
            for error in exc.errors:
                say("error", str(error))
            say("error", "Reload failed: configuration error; keeping the running configuration.")
            return False
        plan = reload.plan_reload(self.cluster, new, self.agent_conf.make_before_break,
                                  new_agent.make_before_break)  # fmt: skip
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
        for _ in range(FINAL_STATUSES):
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
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
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
        with contextlib.suppress(BlockingIOError):
            conn, _ = server.accept()
            conn.setblocking(False)
            client = _Client(conn, deadline=time.monotonic() + 10)
            self.clients[conn.fileno()] = client
            self.selector.register(conn, selectors.EVENT_READ, ("client", client))

    def _client_readable(self, client: _Client) -> None:
        try:
            chunk = client.sock.recv(MAX_REQUEST)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop_client(client)
            return
        client.buffer += chunk
        if b"\n" not in client.buffer:
            if len(client.buffer) > MAX_REQUEST:
                self._reply(client, {"ok": False, "error": "request too long"})
            return
        line = client.buffer.split(b"\n", 1)[0]
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            self._reply(client, {"ok": False, "error": f"bad request: {exc}"})
            return
        self._serve(client, request)

    def _serve(self, client: _Client, request: dict) -> None:
        now = time.monotonic()
        cmd = request.get("cmd")
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
            which = str(request.get("which", "all"))
            client.deadline = now + 30
            self.pending_reply.append(client)
            self._handle_rsc(getattr(self.resources, cmd)(which, now), now)
        else:
            self._reply(client, {"ok": False, "error": f"unknown command {cmd!r}"})

    def _clientstatus(self, client: _Client, request: dict, now: float) -> None:
        node = str(request.get("node", "")).lower()
        if self.membership.node_status(node) is None:
            self._reply(client, {"ok": False, "error": "unknown node"})
            return
        if node == self.node:
            self._reply(client, {"ok": True, "status": "offline"})  # no API clients run here
            return
        query_id = str(next(self.query_ids))
        timeout_ms = int(request.get("timeout_ms", 500) or 500)
        client.deadline = now + timeout_ms / 1000
        client.waiting_for = query_id
        self.pending_cstatus[query_id] = client
        query = Message.of(t="query-cstatus", dest=node, cn=str(request.get("client", "")), from_id=query_id)
        self._handle(self.membership.send(query, now), now)

    def _expire_clients(self, now: float) -> None:
        for client in list(self.clients.values()):
            if client.deadline is not None and now > client.deadline:
                if client.waiting_for:
                    self.pending_cstatus.pop(client.waiting_for, None)
                if client in self.pending_reply:
                    self.pending_reply.remove(client)
                self._reply(client, {"ok": False, "error": "timeout"})

    def _reply(self, client: _Client, payload: dict) -> None:
        with contextlib.suppress(OSError):
            client.sock.setblocking(True)
            client.sock.settimeout(2)
            client.sock.sendall(json.dumps(payload).encode() + b"\n")
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


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as handle:
            return handle.read().strip() or "0.00 0.00 0.00 1/1 1"
    except OSError:
        return "0.00 0.00 0.00 1/1 1"
