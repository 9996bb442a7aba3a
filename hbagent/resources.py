"""Resource runners for haresources groups (Heartbeat 3.0.6 ResourceManager semantics, spec §11.3, §13).

One haresources word becomes one runner with start/stop/status, each returning an `Outcome`
(ok + reason). How a word is resolved, in this order:

* `IPaddr::…` / `IPaddr2::…` / a bare IPv4 word: native (`ip addr add/del`, gratuitous ARP through an
  AF_PACKET socket). The wrapper's argument syntax is kept: `<ip>[/<netmask>[/<nic>[/<broadcast>]]]`.
* `/etc/ha.d/resource.d/<Script>` if executable: `Script arg1 arg2 start|stop|status` (what Heartbeat
  runs first, e.g. the Debian wrappers `Filesystem`, `apache`).
* a bare word (no arguments): a service, through systemd when it is PID 1 and knows the unit, else the
  LSB script `/etc/init.d/<name>` — 3.0.6's lookup order (resource.d, then init.d), never an OCF agent
  of the same name.
* `<Agent>::name=value…` when `/usr/lib/ocf/resource.d/heartbeat/<Agent>` is executable: the OCF
  agent, asked for by its parameters (`OCF_RESKEY_name`); status is `monitor` (0 running, 7 stopped).

Group semantics (ResourceManager `acquireresourcegroup` / `giveupresourcegroup`): start in line order,
skipping resources whose status already says running; a failed start gives up what this start holds
(in reverse) and reports "Giving up resources due to failure of X". Stop in reverse order; a failed stop
is retried (10 times, 1 s apart), then checked with status: still running = STOP failure (Heartbeat
reboots the node here; we report it and let the caller decide).

`part` selects a subset of a group for make-before-break moves (see rscmgr): `ip` = the IPaddr
resources only, `non_ip` = everything else, `all` = the whole group.

Everything touching the system goes through the `ResourceExecutor`'s injectable callables (command
runner, executable test, systemd probe, sleep, packet socket), so tests run without root.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

PART_ALL = "all"
PART_IP = "ip"
PART_NON_IP = "non_ip"
PARTS = (PART_ALL, PART_IP, PART_NON_IP)

IP_AGENTS = ("IPaddr", "IPaddr2")
IFNAMSIZ = 16  # kernel limit incl. the NUL: names and labels are at most 15 characters
ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARP_REQUEST = 1
ARP_REPLY = 2
BROADCAST_MAC = b"\xff" * 6
_OUTPUT_KEEP = 2000  # characters of command output kept for reasons/logs
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_IPV4_WORD_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+")  # ResourceManager `isip`
_SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$")

log_ = logging.getLogger("hbagent.resources")


class ResourceError(ValueError):
    """A resource word that cannot be run (bad arguments, nothing found to run it)."""


@dataclass(frozen=True)
class Outcome:
    ok: bool  # start/stop: succeeded; status: running
    reason: str


@dataclass(frozen=True)
class CommandResult:
    returncode: int | None  # None: could not run or timed out (see error)
    output: str  # stdout and stderr, interleaved, tail only
    error: str = ""

    def describe(self) -> str:
        if self.returncode is None:
            return self.error
        tail = self.output.strip().splitlines()[-1:] if self.output.strip() else []
        return f"exit code {self.returncode}" + (f": {tail[0]}" if tail else "")


Runner = Callable[[Sequence[str], float, "Mapping[str, str] | None"], CommandResult]
LogFn = Callable[[str, str], None]  # (level: debug|info|warning|error|critical, text)


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for commands: C locale (we parse output) and a PATH that has the sbin dirs."""
    env = dict(os.environ)
    env.setdefault("PATH", _DEFAULT_PATH)
    env["LC_ALL"] = "C"
    env.pop("LANGUAGE", None)
    if extra:
        env.update(extra)
    return env


def run_command(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> CommandResult:
    """Run argv with a timeout; output goes to a temp file, not a pipe, so daemons spawned by init
    scripts that inherit stdout cannot block us. On timeout the whole process group is killed."""
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else base_env(),
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            return CommandResult(None, "", f"cannot run {argv[0]}: {exc.strerror or exc}")
        error = ""
        try:
            rc: int | None = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc, error = None, f"{argv[0]} timed out after {timeout:g}s"
        out.seek(0, os.SEEK_END)
        size = out.tell()
        out.seek(max(0, size - 4 * _OUTPUT_KEEP))
        text = out.read().decode("utf-8", "replace")[-_OUTPUT_KEEP:]
    return CommandResult(rc, text, error)


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _systemd_booted() -> bool:
    # sd_booted(): systemd is PID 1 exactly when this directory exists
    return os.path.isdir("/run/systemd/system")


def _default_log(level: str, text: str) -> None:
    log_.log(getattr(logging, level.upper(), logging.INFO), "%s", text)


@dataclass(frozen=True)
class Timeouts:
    start: float = 120.0
    stop: float = 120.0
    status: float = 30.0


@dataclass(frozen=True)
class ArpSettings:
    enabled: bool = True
    count: int = 10  # request/reply pairs (send_arp -r 10)
    interval: float = 0.25  # seconds between frames (what the libnet send_arp does, spec §13)


@dataclass(frozen=True)
class Paths:
    resource_d: str = "/etc/ha.d/resource.d"
    ha_dir: str = "/etc/ha.d"  # HA_DIR for resource.d scripts
    init_d: str = "/etc/init.d"
    ocf_root: str = "/usr/lib/ocf"

    @property
    def ocf_heartbeat(self) -> str:
        return f"{self.ocf_root}/resource.d/heartbeat"


# --------------------------------------------------------------------------------------------
# IPaddr argument syntax (Debian's /etc/ha.d/resource.d/IPaddr wrapper, spec §11.4)


@dataclass(frozen=True)
class IPSpec:
    ip: str
    prefixlen: int | None = None  # None: from the route table
    nic: str | None = None  # None: from the route table
    broadcast: str | None = None  # None: computed from ip/prefixlen
    label: str | None = None  # IPaddr2 only: nic:label


def is_ip_word(name: str) -> bool:
    return bool(_IPV4_WORD_RE.match(name))


def is_ip_resource(resource) -> bool:
    return resource.name in IP_AGENTS or (not resource.args and is_ip_word(resource.name))


def _ipv4(text: str, what: str, arg: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise ResourceError(f"[{arg}]: {what} [{text}] is not an IPv4 address") from None


def _prefix_from_mask(mask: str, arg: str) -> int:
    if mask.isdigit():
        bits = int(mask)
        if not 1 <= bits <= 32:
            raise ResourceError(f"[{arg}]: netmask /{mask} out of range 1..32")
        return bits
    value = int(_ipv4(mask, "netmask", arg))
    bits = bin(value).count("1")
    if value != (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF or bits == 0:
        raise ResourceError(f"[{arg}]: netmask [{mask}] is not a contiguous mask")
    return bits


def _check_ifname(name: str, arg: str) -> None:
    if not name or len(name) >= IFNAMSIZ or "/" in name or any(c.isspace() for c in name):
        raise ResourceError(f"[{arg}]: invalid interface name [{name}]")


def parse_ipaddr(arg: str, agent: str = "IPaddr") -> IPSpec:
    """Parse `ip[/netmask[/nic[/broadcast]]]`; the third part is a broadcast when it starts with a
    digit, else the NIC (then a fourth part is the broadcast). IPaddr2 accepts `nic:label`.
    Unlike the shell wrapper, which silently ignores leftovers, extra parts are an error."""
    parts = arg.split("/")
    if len(parts) > 4:
        raise ResourceError(f"[{arg}]: too many '/' parts (ip[/netmask[/nic[/broadcast]]])")
    if any(p == "" for p in parts):
        raise ResourceError(f"[{arg}]: empty part (ip[/netmask[/nic[/broadcast]]])")
    ip = _ipv4(parts[0], "address", arg)
    prefixlen = _prefix_from_mask(parts[1], arg) if len(parts) > 1 else None
    nic = label = broadcast = None
    if len(parts) > 2:
        third = parts[2]
        if third[0].isdigit():
            if len(parts) > 3:
                raise ResourceError(f"[{arg}]: nothing may follow the broadcast address [{third}]")
            broadcast = third
        else:
            nic = third
            if len(parts) > 3:
                broadcast = parts[3]
    if nic is not None and ":" in nic:
        if agent != "IPaddr2":
            raise ResourceError(
                f"[{arg}]: {agent} takes a plain interface name, not [{nic}] (labels: IPaddr2)"
            )
        nic, label = nic.split(":", 1)
        _check_ifname(nic, arg)
        label = f"{nic}:{label}"
        _check_ifname(label, arg)
    elif nic is not None:
        _check_ifname(nic, arg)
    if broadcast is not None:
        broadcast = str(_ipv4(broadcast, "broadcast", arg))
    return IPSpec(str(ip), prefixlen, nic, broadcast, label)


# --------------------------------------------------------------------------------------------
# Gratuitous ARP (spec §13: 10 request/reply pairs, one frame every 250 ms)


def arp_frame(op: int, mac: bytes, ip: str) -> bytes:
    """Ethernet broadcast ARP frame announcing ip at mac; request: target MAC zero, reply: mac."""
    if len(mac) != 6:
        raise ValueError(f"MAC must be 6 bytes, got {len(mac)}")
    addr = ipaddress.IPv4Address(ip).packed
    target_mac = mac if op == ARP_REPLY else b"\x00" * 6
    ethernet = BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, op) + mac + addr + target_mac + addr
    return ethernet + arp


class PacketLink:
    """A raw AF_PACKET socket bound to one interface (needs CAP_NET_RAW)."""

    def __init__(self, nic: str):
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        try:
            self._sock.bind((nic, ETH_P_ARP))
            self.mac: bytes = self._sock.getsockname()[4][:6]
        except OSError:
            self._sock.close()
            raise

    def send(self, frame: bytes) -> None:
        self._sock.send(frame)

    def close(self) -> None:
        self._sock.close()


class GarpAnnouncer:
    """Sends `count` request/reply pairs; cancel() stops it at once. The first frame goes out in
    start() itself, so that whoever started it knows the address has been announced when start()
    returns (make-before-break relies on it: the giver lets go only after that); the rest follows
    from a background thread."""

    def __init__(
        self, nic: str, ip: str, settings: ArpSettings, open_link=PacketLink, log: LogFn = _default_log
    ):
        self.nic, self.ip, self.settings = nic, ip, settings
        self._open_link, self._log = open_link, log
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"garp-{ip}", daemon=True)
        self._link = None
        self._frames: list[bytes] = []
        self.frames_sent = 0

    def start(self) -> None:
        try:
            self._link = self._open_link(self.nic)
        except OSError as exc:
            self._log("warning", f"IPaddr: cannot send gratuitous ARP for {self.ip} on {self.nic}: {exc}")
            return
        mac = self._link.mac
        self._frames = [arp_frame(ARP_REQUEST, mac, self.ip), arp_frame(ARP_REPLY, mac, self.ip)]
        if self._send(0):
            self._thread.start()
        else:
            self._link.close()

    def cancel(self, wait: float | None = 2.0) -> None:
        self._cancel.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(wait)

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _send(self, index: int) -> bool:
        try:
            self._link.send(self._frames[index % 2])
        except OSError as exc:
            self._log("warning", f"IPaddr: gratuitous ARP for {self.ip} on {self.nic} failed: {exc}")
            return False
        self.frames_sent += 1
        return True

    def _run(self) -> None:
        try:
            total = 2 * self.settings.count
            for i in range(1, total):
                if self._cancel.wait(self.settings.interval) or not self._send(i):
                    break
        finally:
            self._link.close()


class AnnouncerRegistry:
    """One running announcer per address, so stop() can cancel what an earlier start() began."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_ip: dict[str, GarpAnnouncer] = {}

    def replace(self, announcer: GarpAnnouncer) -> None:
        with self._lock:
            old = self._by_ip.pop(announcer.ip, None)
            self._by_ip[announcer.ip] = announcer
        if old is not None:
            old.cancel()
        announcer.start()

    def cancel(self, ip: str) -> bool:
        with self._lock:
            old = self._by_ip.pop(ip, None)
        if old is None:
            return False
        old.cancel()
        return True

    def get(self, ip: str) -> GarpAnnouncer | None:
        with self._lock:
            return self._by_ip.get(ip)

    def cancel_all(self) -> None:
        with self._lock:
            olds, self._by_ip = list(self._by_ip.values()), {}
        for old in olds:
            old.cancel()


# --------------------------------------------------------------------------------------------
# runners


class ResourceRunner:
    word: str = ""
    is_ip: bool = False

    def describe(self) -> str:
        return self.word

    def start(self) -> Outcome:
        raise NotImplementedError

    def stop(self) -> Outcome:
        raise NotImplementedError

    def status(self) -> Outcome:
        raise NotImplementedError


class IPaddrRunner(ResourceRunner):
    """IPaddr (alias label `<nic>:<n>` like Heartbeat) / IPaddr2 (no label unless given)."""

    is_ip = True

    def __init__(self, word: str, agent: str, spec: IPSpec, executor: ResourceExecutor):
        self.word, self.agent, self.spec, self._x = word, agent, spec, executor

    def describe(self) -> str:
        return f"{self.agent} {self.spec.ip}"

    def _ip_json(self, *args: str) -> list:
        res = self._x.run([self._x.ip_command, "-j", "-4", *args], self._x.timeouts.status)
        if res.returncode != 0:
            raise ResourceError(f"ip {' '.join(args)}: {res.describe()}")
        try:
            data = json.loads(res.output or "[]")
        except ValueError:
            raise ResourceError(f"ip {' '.join(args)}: unreadable JSON output") from None
        return data if isinstance(data, list) else []

    def _addresses(self) -> list[tuple[str, str, int, str]]:
        """(dev, local, prefixlen, label) of every IPv4 address."""
        found = []
        for link in self._ip_json("addr", "show"):
            dev = str(link.get("ifname", "")).split("@", 1)[0]
            for info in link.get("addr_info", []):
                if info.get("family", "inet") == "inet" and "local" in info:
                    found.append((dev, info["local"], int(info.get("prefixlen", 32)), info.get("label", dev)))
        return found

    def _resolve(self) -> tuple[str, int, str | None]:
        """nic, prefixlen and broadcast (None for /31 and /32), from the spec or the route table."""
        nic, bits = self.spec.nic, self.spec.prefixlen
        if nic is None or bits is None:
            ip = ipaddress.IPv4Address(self.spec.ip)
            best: tuple[int, str] | None = None
            for route in self._ip_json("route", "show", "table", "main"):
                dst = route.get("dst", "")
                if dst == "default" or "gateway" in route or route.get("type", "unicast") != "unicast":
                    continue
                try:
                    net = ipaddress.IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False)
                except ValueError:
                    continue
                dev = route.get("dev")
                if (
                    ip in net
                    and dev
                    and (nic is None or dev == nic)
                    and (best is None or net.prefixlen > best[0])
                ):
                    best = (net.prefixlen, dev)
            if best is None:
                raise ResourceError(
                    f"{self.agent}: no connected route holds {self.spec.ip}; "
                    f"write it as {self.agent}::{self.spec.ip}/<netmask>/<nic>"
                )
            bits = best[0] if bits is None else bits
            nic = best[1] if nic is None else nic
        brd = self.spec.broadcast
        if brd is None and bits <= 30:
            brd = str(ipaddress.IPv4Network(f"{self.spec.ip}/{bits}", strict=False).broadcast_address)
        return nic, bits, brd

    def status(self) -> Outcome:
        try:
            where = [dev for dev, local, _bits, _label in self._addresses() if local == self.spec.ip]
        except ResourceError as exc:
            return Outcome(False, str(exc))
        if where:
            return Outcome(True, f"{self.spec.ip} configured on {', '.join(where)}")
        return Outcome(False, f"{self.spec.ip} not configured")

    def _free_label(self, nic: str, addresses) -> str | None:
        used = {label for dev, _local, _bits, label in addresses if dev == nic}
        n = 0
        while f"{nic}:{n}" in used:
            n += 1
        label = f"{nic}:{n}"
        return label if len(label) < IFNAMSIZ else None

    def start(self) -> Outcome:
        try:
            addresses = self._addresses()
            if any(local == self.spec.ip for _dev, local, _bits, _label in addresses):
                return Outcome(True, f"{self.spec.ip} already configured")
            nic, bits, brd = self._resolve()
        except ResourceError as exc:
            return Outcome(False, str(exc))
        label = self.spec.label
        if self.agent == "IPaddr":
            label = self._free_label(nic, addresses)
            if label is None:
                self._x.log(
                    "warning", f"IPaddr: no alias label fits {nic} (15 characters); adding without label"
                )
        argv = [self._x.ip_command, "-4", "addr", "add", f"{self.spec.ip}/{bits}"]
        if brd:
            argv += ["brd", brd]
        argv += ["dev", nic]
        if label:
            argv += ["label", label]
        res = self._x.run(argv, self._x.timeouts.start)
        if res.returncode != 0:
            return Outcome(False, f"ip addr add {self.spec.ip}/{bits} dev {nic}: {res.describe()}")
        self._x.announce(nic, self.spec.ip)
        return Outcome(True, f"added {self.spec.ip}/{bits} on {label or nic}")

    def reannounce(self) -> Outcome:
        """Gratuitous ARP again, if the address is configured here (clients may point to another node)."""
        try:
            where = [dev for dev, local, _bits, _label in self._addresses() if local == self.spec.ip]
        except ResourceError as exc:
            return Outcome(False, str(exc))
        if not where:
            return Outcome(False, f"{self.spec.ip} not configured")
        self._x.announce(where[0], self.spec.ip)
        return Outcome(True, f"announcing {self.spec.ip} on {where[0]}")

    def stop(self) -> Outcome:
        self._x.announcers.cancel(self.spec.ip)
        try:
            present = [(dev, bits) for dev, local, bits, _label in self._addresses() if local == self.spec.ip]
        except ResourceError as exc:
            return Outcome(False, str(exc))
        if not present:
            return Outcome(True, f"{self.spec.ip} not configured")
        for dev, bits in present:
            argv = [self._x.ip_command, "-4", "addr", "del", f"{self.spec.ip}/{bits}", "dev", dev]
            res = self._x.run(argv, self._x.timeouts.stop)
            if res.returncode != 0:
                return Outcome(False, f"ip addr del {self.spec.ip}/{bits} dev {dev}: {res.describe()}")
        return Outcome(True, f"removed {self.spec.ip} from {', '.join(dev for dev, _bits in present)}")


class ServiceRunner(ResourceRunner):
    """A service by name: systemd when it is PID 1 and has the unit, else /etc/init.d/<name> (LSB)."""

    def __init__(self, word: str, name: str, executor: ResourceExecutor, ocf_hint: str | None = None):
        self.word, self.name, self._x = word, name, executor
        self.ocf_hint = ocf_hint  # an OCF agent of this name exists, but a bare word never runs it
        self.unit = name if re.search(r"\.(service|target|socket|mount|timer)$", name) else f"{name}.service"

    def describe(self) -> str:
        return f"service {self.name}"

    def _backend(self) -> tuple[str, str] | Outcome:
        if self._x.systemd_booted():
            res = self._x.run(
                [self._x.systemctl_command, "show", "--property=LoadState", "--value", self.unit],
                self._x.timeouts.status,
            )
            state = res.output.strip() if res.returncode == 0 else ""
            if state and state != "not-found":
                return ("systemd", self.unit)
        script = f"{self._x.paths.init_d}/{self.name}"
        if self._x.is_executable(script):
            return ("lsb", script)
        where = "no systemd unit and " if self._x.systemd_booted() else "systemd is not running and "
        hint = f"; there is an OCF agent {self.ocf_hint}" if self.ocf_hint else ""
        return Outcome(False, f"{self.name}: {where}no executable {script}{hint}")

    def _do(self, action: str, timeout: float) -> Outcome:
        backend = self._backend()
        if isinstance(backend, Outcome):
            return backend
        kind, target = backend
        argv = [self._x.systemctl_command, action, target] if kind == "systemd" else [target, action]
        res = self._x.run(argv, timeout)
        if res.returncode == 0:
            return Outcome(True, f"{' '.join(argv)}: ok")
        return Outcome(False, f"{' '.join(argv)}: {res.describe()}")

    def start(self) -> Outcome:
        return self._do("start", self._x.timeouts.start)

    def stop(self) -> Outcome:
        return self._do("stop", self._x.timeouts.stop)

    def status(self) -> Outcome:
        backend = self._backend()
        if isinstance(backend, Outcome):
            return backend
        kind, target = backend
        if kind == "systemd":
            res = self._x.run([self._x.systemctl_command, "is-active", target], self._x.timeouts.status)
            state = res.output.strip().splitlines()[-1] if res.output.strip() else res.describe()
            return Outcome(res.returncode == 0, f"{target} {state}")
        res = self._x.run([target, "status"], self._x.timeouts.status)
        # LSB: 0 running, 3 stopped, anything else: not running as far as we can tell
        return Outcome(res.returncode == 0, f"{target} status: {res.describe()}")


# ResourceManager `we_own_resource` reads a script's status from its text (shell case patterns)
_NOT_RUNNING_RE = re.compile(r"[Nn][Oo][Tt] .*[Rr]unning", re.DOTALL)
_RUNNING_RE = re.compile(r"[Rr]unning|OK")


def heartbeat_status_text(output: str) -> bool:
    """True when a resource.d script's status output says running (as Heartbeat decides it)."""
    return not _NOT_RUNNING_RE.search(output) and bool(_RUNNING_RE.search(output))


class ScriptRunner(ResourceRunner):
    """/etc/ha.d/resource.d/<Script> arg1 arg2 … start|stop|status (Heartbeat-style script)."""

    def __init__(self, word: str, path: str, args: Sequence[str], executor: ResourceExecutor):
        self.word, self.path, self.args, self._x = word, path, list(args), executor

    def describe(self) -> str:
        return " ".join([self.path, *self.args])

    def _run(self, action: str, timeout: float) -> CommandResult:
        ha_dir = self._x.paths.ha_dir
        env = base_env({"HA_DIR": ha_dir, "HA_FUNCS": f"{ha_dir}/shellfuncs"})
        return self._x.run([self.path, *self.args, action], timeout, env)

    def start(self) -> Outcome:
        res = self._run("start", self._x.timeouts.start)
        return Outcome(res.returncode == 0, f"{self.describe()} start: {res.describe()}")

    def stop(self) -> Outcome:
        res = self._run("stop", self._x.timeouts.stop)
        return Outcome(res.returncode == 0, f"{self.describe()} stop: {res.describe()}")

    def status(self) -> Outcome:
        res = self._run("status", self._x.timeouts.status)
        return Outcome(heartbeat_status_text(res.output), f"{self.describe()} status: {res.describe()}")


OCF_SUCCESS = 0
OCF_NOT_RUNNING = 7


class OcfRunner(ResourceRunner):
    """An OCF agent: OCF_ROOT, OCF_RESKEY_<name> from `name=value` args; monitor 0/7."""

    def __init__(
        self, word: str, name: str, path: str, params: Mapping[str, str], executor: ResourceExecutor
    ):
        self.word, self.name, self.path, self.params, self._x = word, name, path, dict(params), executor

    def describe(self) -> str:
        return f"OCF heartbeat:{self.name}"

    def _env(self) -> dict[str, str]:
        instance = "_".join([self.name, *(re.sub(r"[^A-Za-z0-9_.-]", "_", v) for v in self.params.values())])
        extra = {
            "OCF_ROOT": self._x.paths.ocf_root,
            "OCF_RA_VERSION_MAJOR": "1",
            "OCF_RA_VERSION_MINOR": "0",
            "OCF_RESOURCE_TYPE": self.name,
            "OCF_RESOURCE_INSTANCE": instance[:100],
        }
        extra.update({f"OCF_RESKEY_{k}": v for k, v in self.params.items()})
        return base_env(extra)

    def _run(self, action: str, timeout: float) -> CommandResult:
        return self._x.run([self.path, action], timeout, self._env())

    def start(self) -> Outcome:
        res = self._run("start", self._x.timeouts.start)
        return Outcome(res.returncode == OCF_SUCCESS, f"{self.describe()} start: {res.describe()}")

    def stop(self) -> Outcome:
        res = self._run("stop", self._x.timeouts.stop)
        return Outcome(res.returncode == OCF_SUCCESS, f"{self.describe()} stop: {res.describe()}")

    def status(self) -> Outcome:
        res = self._run("monitor", self._x.timeouts.status)
        if res.returncode == OCF_SUCCESS:
            return Outcome(True, f"{self.describe()} running")
        if res.returncode == OCF_NOT_RUNNING:
            return Outcome(False, f"{self.describe()} not running")
        return Outcome(False, f"{self.describe()} monitor: {res.describe()}")


def _ocf_params(name: str, args: Sequence[str]) -> dict[str, str]:
    params = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise ResourceError(
                f"OCF agent {name}: argument [{arg}] must be name=value (e.g. {name}::directory=/srv)"
            )
        params[key] = value
    return params


# --------------------------------------------------------------------------------------------
# groups


@dataclass
class Step:
    word: str
    action: str  # start | stop | status
    outcome: Outcome


@dataclass
class GroupResult:
    key: str
    ok: bool
    reason: str
    steps: list[Step] = field(default_factory=list)


def select_part(resources: Iterable, part: str) -> list:
    if part not in PARTS:
        raise ValueError(f"unknown group part {part!r} (one of {', '.join(PARTS)})")
    if part == PART_ALL:
        return list(resources)
    want_ip = part == PART_IP
    return [r for r in resources if is_ip_resource(r) == want_ip]


class ResourceExecutor:
    """Runs groups on this host. All system access is injectable:

    run(argv, timeout, env) -> CommandResult, is_executable(path), systemd_booted(), sleep(seconds),
    open_link(nic) -> object with .mac/.send(frame)/.close(), log(level, text),
    runner_factory(resource) -> ResourceRunner (replaces the resolution above, for tests).
    """

    def __init__(
        self,
        run: Runner = run_command,
        *,
        is_executable: Callable[[str], bool] = _is_executable,
        systemd_booted: Callable[[], bool] = _systemd_booted,
        sleep: Callable[[float], None] = time.sleep,
        log: LogFn = _default_log,
        timeouts: Timeouts | None = None,
        arp: ArpSettings | None = None,
        open_link=PacketLink,
        paths: Paths | None = None,
        stop_retries: int = 10,
        stop_retry_delay: float = 1.0,
        runner_factory: Callable[[object], ResourceRunner] | None = None,
        ip_command: str = "ip",
        systemctl_command: str = "systemctl",
    ):
        self.run, self.is_executable, self.systemd_booted = run, is_executable, systemd_booted
        self.sleep, self.log = sleep, log
        self.timeouts = timeouts or Timeouts()
        self.arp = arp or ArpSettings()
        self.open_link, self.paths = open_link, paths or Paths()
        self.stop_retries, self.stop_retry_delay = stop_retries, stop_retry_delay
        self._runner_factory = runner_factory
        self.ip_command, self.systemctl_command = ip_command, systemctl_command
        self.announcers = AnnouncerRegistry()

    # -- resolution ------------------------------------------------------------------------
    def runner_for(self, resource) -> ResourceRunner:
        if self._runner_factory is not None:
            return self._runner_factory(resource)
        name, args, word = resource.name, list(resource.args), resource.word
        if not args and is_ip_word(name):
            name, args = "IPaddr", [name]
        if name in IP_AGENTS:
            if len(args) != 1:
                raise ResourceError(f"{word}: {name} takes one argument ip[/netmask[/nic[/broadcast]]]")
            return IPaddrRunner(word, name, parse_ipaddr(args[0], name), self)
        if not _SAFE_NAME_RE.match(name):
            raise ResourceError(f"{word}: invalid resource name [{name}]")
        script = f"{self.paths.resource_d}/{name}"
        if self.is_executable(script):
            return ScriptRunner(word, script, args, self)
        agent = f"{self.paths.ocf_heartbeat}/{name}"
        if not args:  # 3.0.6: resource.d, then the init script; an OCF agent only when asked for
            hint = f"{agent} (write {name}::<name>=<value> to run it)" if self.is_executable(agent) else None
            return ServiceRunner(word, name, self, ocf_hint=hint)
        if self.is_executable(agent):
            return OcfRunner(word, name, agent, _ocf_params(name, args), self)
        raise ResourceError(
            f"{word}: no executable {script} nor OCF agent {agent} for a resource with arguments"
        )

    def stop_announcing(self, resource) -> bool:
        """Cancel the gratuitous ARP of an IP resource's address, if still running; True if it was."""
        name, args = resource.name, list(resource.args)
        if not args and is_ip_word(name):
            name, args = "IPaddr", [name]
        if name not in IP_AGENTS or len(args) != 1:
            return False
        return self.announcers.cancel(parse_ipaddr(args[0], name).ip)

    def reannounce(self, group) -> list[Outcome]:
        """Gratuitous ARP again for the group's addresses that are configured here."""
        outcomes = []
        for resource in group.resources:
            if is_ip_resource(resource):
                runner = self._runner_or_failure(resource)
                if isinstance(runner, IPaddrRunner):
                    outcomes.append(runner.reannounce())
        return outcomes

    def announce(self, nic: str, ip: str) -> None:
        if self.arp.enabled and self.arp.count > 0:
            self.announcers.replace(GarpAnnouncer(nic, ip, self.arp, self.open_link, self.log))

    def close(self) -> None:
        self.announcers.cancel_all()

    # -- groups ------------------------------------------------------------------------------
    def _runner_or_failure(self, resource) -> ResourceRunner | Outcome:
        try:
            return self.runner_for(resource)
        except ResourceError as exc:
            return Outcome(False, str(exc))

    def start_group(self, group, part: str = PART_ALL) -> GroupResult:
        """Start in line order; on failure give up what this start holds, in reverse."""
        result = GroupResult(group.key, True, "started")
        holding: list[tuple[object, ResourceRunner]] = []
        selected = select_part(group.resources, part)
        self.log("info", f"Acquiring resource group: {group.node} {' '.join(r.word for r in selected)}")
        for resource in selected:
            runner = self._runner_or_failure(resource)
            if isinstance(runner, Outcome):
                outcome = runner
            else:
                status = runner.status()
                result.steps.append(Step(resource.word, "status", status))
                if status.ok:
                    self.log("info", f"Resource is already running: {resource.word} ({status.reason})")
                    holding.append((resource, runner))
                    continue
                self.log("info", f"Running {runner.describe()} start")
                outcome = runner.start()
            result.steps.append(Step(resource.word, "start", outcome))
            if outcome.ok:
                holding.append((resource, runner))
                continue
            self.log("error", f"{resource.word} start failed: {outcome.reason}")
            self.log("critical", f"Giving up resources due to failure of {resource.word}")
            if not isinstance(runner, Outcome):
                holding.append((resource, runner))  # a half-done start may have left something behind
            for held, held_runner in reversed(holding):
                stopped = self._stop_with_retries(held.word, held_runner)
                result.steps.append(Step(held.word, "stop", stopped))
            result.ok, result.reason = False, f"{resource.word}: {outcome.reason}"
            return result
        return result

    def stop_group(self, group, part: str = PART_ALL) -> GroupResult:
        """Stop in reverse line order; every resource is attempted even after a failure."""
        result = GroupResult(group.key, True, "stopped")
        selected = select_part(group.resources, part)
        self.log("info", f"Releasing resource group: {group.node} {' '.join(r.word for r in selected)}")
        failures = []
        for resource in reversed(selected):
            runner = self._runner_or_failure(resource)
            if isinstance(runner, Outcome):
                outcome = runner  # cannot even resolve it: we cannot claim it is stopped
            else:
                self.log("info", f"Running {runner.describe()} stop")
                outcome = self._stop_with_retries(resource.word, runner)
            result.steps.append(Step(resource.word, "stop", outcome))
            if not outcome.ok:
                failures.append(f"{resource.word}: {outcome.reason}")
        if failures:
            result.ok, result.reason = False, "; ".join(failures)
        return result

    def _stop_with_retries(self, word: str, runner: ResourceRunner) -> Outcome:
        outcome = runner.stop()
        retries = 0
        while not outcome.ok and retries < self.stop_retries:
            retries += 1
            self.sleep(self.stop_retry_delay)
            self.log("info", f"Retrying failed stop operation [{word}]")
            outcome = runner.stop()
        if outcome.ok:
            return outcome
        if runner.status().ok:
            self.log("critical", f"Resource STOP failure for {word}: {outcome.reason}")
            return Outcome(False, f"STOP failure after {retries} retries: {outcome.reason}")
        # what Heartbeat forgives: the stop failed but the thing is not running
        self.log("error", f"Resource script for {word} probably not LSB-compliant (stop failed, not running)")
        return Outcome(True, f"not running (stop failed: {outcome.reason})")

    def group_status(self, group) -> str:
        """ResourceManager `statgroup`: ALL, SOME or NONE of the group's resources running."""
        running = []
        for resource in group.resources:
            runner = self._runner_or_failure(resource)
            running.append(not isinstance(runner, Outcome) and runner.status().ok)
        if running and all(running):
            return "ALL"
        return "SOME" if any(running) else "NONE"
