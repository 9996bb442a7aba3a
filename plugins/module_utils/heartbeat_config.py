# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parser, checker and renderer of Heartbeat 3.0.6 configuration files.

The single source of truth for ha.cf, haresources and authkeys: the Ansible filters/modules
import it (shipped alone by AnsiballZ, hence stdlib only and no package-relative imports) and
the hbagent daemon reads its configuration through it (hbagent/config.py is a symlink here).
Syntax and semantics follow heartbeat 3.0.6 (config.c, auth.c, ResourceManager); every error
names the file (or the input variable, for the renderers), the line and the reason.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import stat
from dataclasses import dataclass, field

__all__ = [
    "AuthKeys",
    "ClusterConfig",
    "ConfigError",
    "ConfigErrors",
    "HaCf",
    "Medium",
    "PingGroup",
    "Resource",
    "ResourceGroup",
    "StonithDevice",
    "crc_warning",
    "load_config",
    "parse_authkeys",
    "parse_ha_cf",
    "parse_haresources",
    "parse_msec",
    "read_config_file",
    "render_authkeys",
    "render_ha_cf",
    "render_haresources",
    "safety_warnings",
]

DEFAULT_UDPPORT = 694
MAX_NODES = 100  # MAXNODE
MAX_MEDIA = 64  # MAXMEDIA
MAX_AUTH_INDEX = 15  # MAXAUTH - 1
HOSTLENG = 100  # node names must be shorter
AUTH_METHODS = ("crc", "md5", "sha1")
MAX_CONFIG_BYTES = 1024 * 1024  # a configuration file larger than this is refused, not read
MAX_NUMBER_DIGITS = 9  # integers in the files: no value needs more (and int() of 4,300 digits raises)


# --------------------------------------------------------------------------------------------
# errors


class ConfigError(ValueError):
    """One problem: where (file path or input variable), which line (or None) and why."""

    def __init__(self, path: str, line: int | None, reason: str):
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.reason}"

    def __repr__(self) -> str:
        return f"ConfigError({self.path!r}, {self.line!r}, {self.reason!r})"


class ConfigErrors(ValueError):
    """Every problem found in one go, so a fix-and-retry loop converges quickly."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class _Collector:
    def __init__(self, path: str):
        self.path = path
        self.errors: list[ConfigError] = []

    def add(self, line: int | None, reason: str) -> None:
        self.errors.append(ConfigError(self.path, line, reason))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ConfigErrors(self.errors)


# --------------------------------------------------------------------------------------------
# data model


@dataclass
class Medium:
    kind: str  # 'bcast' | 'mcast' | 'ucast'
    dev: str
    address: str | None = None  # mcast group / ucast peer
    port: int = DEFAULT_UDPPORT
    ttl: int | None = None  # mcast only
    loop: int | None = None  # mcast only
    line: int | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """Link name as cl_status shows it (the interface)."""
        return self.dev


@dataclass
class PingGroup:
    """`ping_group <name> <host>…`: one ping node, alive while any of its hosts answers."""

    name: str
    hosts: list[str]
    line: int | None = field(default=None, compare=False)


@dataclass
class StonithDevice:
    """`stonith <type> <config-file>` (every node) or `stonith_host <node|*> <type> <parameters>`."""

    directive: str  # 'stonith' | 'stonith_host'
    type: str  # cluster-glue plugin: null, ssh, external/ipmi, ...
    host: str | None  # stonith_host: the node that uses it, '*' = every node
    config: str  # stonith: the config file; stonith_host: the parameters (may be empty)
    line: int | None = field(default=None, compare=False)

    def applies_to(self, node: str) -> bool:
        return self.directive == "stonith" or self.host in ("*", node.lower())


@dataclass
class HaCf:
    path: str = "/etc/ha.d/ha.cf"
    nodes: list[str] = field(default_factory=list)
    keepalive_ms: int = 1000
    deadtime_ms: int = 30000
    warntime_ms: int = 15000
    initdead_ms: int = 30000
    deadping_ms: int = 30000
    udpport: int = DEFAULT_UDPPORT
    media: list[Medium] = field(default_factory=list)
    auto_failback: str = "legacy"
    ping: list[str] = field(default_factory=list)
    ping_groups: list[PingGroup] = field(default_factory=list)
    stonith: list[StonithDevice] = field(default_factory=list)  # file order
    crm: str = "off"
    msgfmt: str = "classic"
    hopfudge: int = 1
    max_rexmit_delay_ms: int = 250
    hbgenmethod: str = "file"
    uuidfrom: str = "file"
    autojoin: str = "none"
    compression: str = "zlib"
    compression_threshold_kib: int = 2
    traditional_compression: bool = False
    logfile: str | None = None
    debugfile: str | None = None
    logfacility: str | None = None
    use_logd: bool | None = None
    # every applied (directive, value, line), in file order, including the ones modelled above
    directives: list[tuple[str, str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        """Last value given to a directive (Heartbeat records the last one)."""
        found = default
        for directive, value, _line in self.directives:
            if directive == name:
                found = value
        return found

    @property
    def crm_enabled(self) -> bool:
        return self.crm != "off"


@dataclass
class Resource:
    word: str  # as written in haresources
    name: str  # script / agent name ('IPaddr', 'apache2', ...)
    args: list[str] = field(default_factory=list)


@dataclass
class ResourceGroup:
    node: str  # preferred node, lower-cased
    key: str  # first resource word: identifies the group on the wire
    resources: list[Resource]
    line: int | None = field(default=None, compare=False)


@dataclass
class AuthKeys:
    active: int
    keys: dict[int, tuple[str, bytes | None]]

    @property
    def method(self) -> str:
        return self.keys[self.active][0]

    @property
    def key(self) -> bytes | None:
        return self.keys[self.active][1]


@dataclass
class ClusterConfig:
    ha_cf: HaCf
    resources: list[ResourceGroup]
    authkeys: AuthKeys
    directory: str = "/etc/ha.d"


# --------------------------------------------------------------------------------------------
# reading files and lines (every input is hostile: a FIFO, /dev/zero, 1 GB, Latin-1, NUL bytes)


def read_config_file(path: str, strict: bool = True) -> tuple[str, int]:
    """(text, st_mode) of a configuration file, or ConfigErrors naming the file: a missing or unreadable
    file, anything but a regular file (a FIFO would block, /dev/zero never ends), more than
    MAX_CONFIG_BYTES, and with `strict` bytes that are not UTF-8 (the line is named). Not strict: bytes
    that are not UTF-8 survive as surrogates (authkeys keys are raw bytes)."""

    def refuse(reason: str, line: int | None = None) -> ConfigErrors:
        return ConfigErrors([ConfigError(path, line, reason)])

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                    else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                    else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")  # fmt: skip
            raise refuse(f"cannot read: {kind}, not a regular file: refused")
        if info.st_size > MAX_CONFIG_BYTES:
            raise refuse(f"cannot read: {info.st_size} bytes, more than the {MAX_CONFIG_BYTES} accepted")
        chunks, size = [], 0
        while size <= MAX_CONFIG_BYTES:
            chunk = os.read(fd, MAX_CONFIG_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_CONFIG_BYTES:
            raise refuse(f"cannot read: more than the {MAX_CONFIG_BYTES} bytes accepted")
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if not strict:
        return data.decode("utf-8", "surrogateescape"), info.st_mode
    try:
        return data.decode("utf-8"), info.st_mode
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise refuse(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x}): save the file as UTF-8", line
        ) from None


def _describe_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"not valid UTF-8 (byte 0x{code - 0xDC00:02x})"
    if code == 0:
        return "NUL character in the line"
    return f"non-printable character U+{code:04X} (only printable characters, spaces and tabs)"


def _lines(text: str, errs: _Collector, printable: bool = True):
    """(line number, line) as Heartbeat reads a file (fgets: only "\n" ends a line; a "\r" before it
    is dropped). Lines with a character that this parser and Heartbeat's C parser could read
    differently (NUL, and with `printable` any non-printable character but the tab: form feeds, Unicode
    line or word separators, undecodable bytes) are reported and skipped."""
    pieces = text.split("\n")
    if pieces[-1] == "":
        pieces.pop()  # the newline that ends the last line does not start another one
    for lineno, raw in enumerate(pieces, start=1):
        if raw.endswith("\r"):
            raw = raw[:-1]
        if printable and not raw.isprintable():
            bad = next((c for c in raw if c != "\t" and not c.isprintable()), None)
            if bad is not None:
                errs.add(lineno, _describe_char(bad))
                continue
        elif not printable and "\0" in raw:
            errs.add(lineno, _describe_char("\0"))
            continue
        yield lineno, raw


def _cut(value: str, longest: int = 40) -> str:
    """A value as echoed in an error: a number of 5,000 digits is shown by its start."""
    return value if len(value) <= longest else f"{value[:longest]}… ({len(value)} characters)"


def _is_uint(text, max_digits: int = MAX_NUMBER_DIGITS) -> bool:
    """ASCII digits only ("²" and "٣" are digits to str.isdigit), and not too many of them."""
    return isinstance(text, str) and 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


# --------------------------------------------------------------------------------------------
# value helpers (cl_get_msec, cl_str_to_boolean)

# at most 12 digits of seconds (31,000 years) and 9 decimals: float() of 309 digits is inf
_MSEC_RE = re.compile(r"^([0-9]{1,12}(?:\.[0-9]{0,9})?|\.[0-9]{1,9})(ms|msec|us|usec)?$", re.IGNORECASE)
_TRUE = ("true", "on", "yes", "y", "1")
_FALSE = ("false", "off", "no", "n", "0")


def parse_msec(value: str) -> int | None:
    """Heartbeat time value -> milliseconds: plain number = seconds, suffix ms or us; None if bad."""
    if not isinstance(value, str):
        return None
    m = _MSEC_RE.match(value.strip(" \t"))
    if not m:
        return None
    number = float(m.group(1))
    unit = (m.group(2) or "").lower()
    if unit in ("ms", "msec"):
        ms = number
    elif unit in ("us", "usec"):
        ms = number / 1000.0
    else:
        ms = number * 1000.0
    return int(ms + 0.5)


def _parse_bool(value: str) -> bool | None:
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return None


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


_IFNAME_RE = re.compile(r"^[!-.0-9;-~]{1,15}$")  # IFNAMSIZ-1 ASCII bytes, no '/' (':' marks an alias)
_HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")
_FACILITIES = frozenset(
    (
        *("none", "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "security"),
        *("syslog", "user", "uucp", *(f"local{i}" for i in range(8))),
    )
)
_BAUD_RATES = frozenset(("9600", "19200", "38400", "57600", "115200", "230400", "460800"))
_CRM_VALUES = ("respawn", "minimal", "manual", "ccm-only", "valgrind")


# --------------------------------------------------------------------------------------------
# ha.cf

# Directives that take each value separately (Directives[] of config.c) and the media/ping
# plugins that do the same.  None = free text; otherwise a validator name.
_VALUE_DIRECTIVES = {
    "cluster": "text",
    "node": "node",
    "hopfudge": "hopfudge",
    "keepalive": "time",
    "deadtime": "time",
    "deadping": "time",
    "initdead": "time",
    "warntime": "time",
    "watchdog": "text",
    "baud": "baud",
    "udpport": "port",
    "logfacility": "facility",
    "logfile": "text",
    "debugfile": "text",
    "nice_failback": "bool",
    "auto_failback": "failback",
    "rtprio": "int",
    "hbgenmethod": ("file", "time"),
    "realtime": "bool",
    "debug": "debug",
    "normalpoll": "bool",
    "msgfmt": ("classic", "netstring"),
    "use_logd": "bool",
    "conn_logd_time": "time",
    "use_apphbd": "bool",
    "log_badpack": "bool",
    "syslogmsgfmt": "bool",
    "coredumps": "bool",
    "coreroot": "text",
    "crm_daemon_dir": "text",
    "crmd_spawns_pengine": "bool",
    "crm": "crm",
    "pacemaker": "crm",
    "autojoin": ("none", "other", "any"),
    "uuidfrom": ("file", "nodename"),
    "compression": "text",
    "compression_threshold": "posint",
    "traditional_compression": "bool",
    "env": "env",
    "max_rexmit_delay": "posint",
    "record_config_changes": "bool",
    "record_pengine_inputs": "bool",
    "enable_config_writes": "bool",
    "memreserve": "int",
    "quorum_server": "text",
    # media / ping plugins that create one item per value
    "bcast": "ifname",
    "serial": "text",
    "ping": "text",
    "ping6": "text",
}
# Whole-line directives: the rest of the line is one value.
_WHOLE_LINE_DIRECTIVES = frozenset(
    (
        "stonith",
        "stonith_host",
        "apiauth",
        "respawn",
        "failfast",
        "mcast",
        "mcast6",
        "ucast",
        "ucast6",
        "ping_group",
    )
)
_MEDIA_DIRECTIVES = frozenset(("bcast", "mcast", "ucast", "mcast6", "ucast6", "serial"))
_TIME_FIELDS = {
    "keepalive": "keepalive_ms",
    "deadtime": "deadtime_ms",
    "warntime": "warntime_ms",
    "initdead": "initdead_ms",
    "deadping": "deadping_ms",
}


def _strip_comment(raw: str) -> str:
    return raw.split("#", 1)[0].strip()


def parse_ha_cf(text: str, path: str = "/etc/ha.d/ha.cf") -> HaCf:
    """Parse ha.cf like heartbeat 3.0.6 does; raise ConfigErrors listing every problem."""
    cfg, errs = _parse_ha_cf(text, path)
    errs.raise_if_any()
    return cfg


def _parse_ha_cf(text: str, path: str) -> tuple[HaCf, _Collector]:
    """The (possibly partial) model and the problems found."""
    errs = _Collector(path)
    cfg = HaCf(path=path)
    seen: dict[str, int] = {}  # directive -> first line
    first_media_line: int | None = None
    other_media = 0  # media hbagent does not drive (serial, IPv6): still media for Heartbeat
    crm_lines: list[int] = []
    explicit: set[str] = set()

    for lineno, raw in _lines(text, errs):
        body = _strip_comment(raw)
        if not body:
            continue
        directive, rest = re.match(r"(\S+)\s*(.*)", body).groups()
        rest = rest.strip(" \t,")
        if directive == "udp":
            cfg.warnings.append(f"{path}:{lineno}: directive 'udp' replaced by 'bcast'")
            directive = "bcast"
        if directive not in _VALUE_DIRECTIVES and directive not in _WHOLE_LINE_DIRECTIVES:
            errs.add(lineno, f"Illegal directive [{directive}] in {path}")
            continue
        if not rest:
            errs.add(lineno, f"directive {directive} needs a value")
            continue
        seen[directive] = lineno  # the last setting wins, and is the one to blame
        if directive in _MEDIA_DIRECTIVES and first_media_line is None:
            first_media_line = lineno
        if directive in ("crm", "pacemaker"):
            crm_lines.append(lineno)

        if directive in _WHOLE_LINE_DIRECTIVES:
            cfg.directives.append((directive, rest, lineno))
            if directive == "mcast":
                _parse_mcast(rest, cfg, errs, lineno)
            elif directive == "ucast":
                _parse_ucast(rest, cfg, errs, lineno)
            elif directive in ("mcast6", "ucast6"):
                other_media += 1
            continue

        for value in (v for v in re.split(r"[ \t,]+", rest) if v):
            cfg.directives.append((directive, value, lineno))
            _apply_value(directive, value, cfg, errs, lineno, explicit, first_media_line)
            if directive == "serial":
                other_media += 1

    if len(crm_lines) > 1:
        errs.add(crm_lines[1], f"crm/pacemaker may be given only once (first on line {crm_lines[0]})")
    _finish_ha_cf(cfg, errs, seen, explicit, other_media)
    _parse_ping_and_stonith(cfg, errs)
    return cfg, errs


def _apply_value(directive, value, cfg: HaCf, errs: _Collector, lineno, explicit, first_media_line):
    kind = _VALUE_DIRECTIVES[directive]

    def bad(reason: str) -> None:
        errs.add(lineno, f"{directive}: {reason}")

    if isinstance(kind, tuple):
        if value.lower() not in kind:
            bad(f"invalid value [{_cut(value)}], expected one of: {', '.join(kind)}")
            return
        value = value.lower()
        if directive in ("msgfmt", "hbgenmethod", "uuidfrom", "autojoin"):
            setattr(cfg, directive, value)
        return
    if kind == "time":
        ms = parse_msec(value)
        minimum = 1 if directive in ("keepalive", "warntime") else 0
        if ms is None or ms < minimum:
            bad(f'invalid time [{_cut(value)}] (seconds, or a number with suffix ms/us, e.g. "500ms")')
            return
        if directive in _TIME_FIELDS:
            setattr(cfg, _TIME_FIELDS[directive], ms)
            explicit.add(directive)
        return
    if kind == "node":
        name = value.lower()
        if len(name) >= HOSTLENG:
            bad(f"node name [{_cut(value)}] is too long (max {HOSTLENG - 1} characters)")
        elif name in cfg.nodes:
            bad(f"node {name} is listed twice")
        elif len(cfg.nodes) >= MAX_NODES:
            bad(f"too many nodes (max {MAX_NODES})")
        else:
            cfg.nodes.append(name)
        return
    if kind == "port":
        if not _is_uint(value, 5) or not 0 < int(value) < 65536:
            bad(f"invalid port [{_cut(value)}] specified")
            return
        if first_media_line is not None:
            errs.add(
                lineno,
                f"udpport setting must precede media statements (first medium on line {first_media_line})",
            )
            return
        cfg.udpport = int(value)
        return
    if kind == "ifname":  # bcast
        if not _IFNAME_RE.match(value):
            bad(f"invalid interface name [{_cut(value)}]")
        elif len(cfg.media) >= MAX_MEDIA:
            bad(f"Too many media specified (> {MAX_MEDIA})")
        else:
            cfg.media.append(Medium("bcast", value, None, cfg.udpport, line=lineno))
        return
    if kind == "bool":
        parsed = _parse_bool(value)
        if parsed is None:
            bad(f"invalid boolean [{_cut(value)}] (true/on/yes/y/1 or false/off/no/n/0)")
            return
        if directive == "nice_failback":
            new = "off" if parsed else "legacy"
            cfg.warnings.append(
                f"{errs.path}:{lineno}: nice_failback flag is obsolete; 'nice_failback {value}' "
                f"is interpreted as 'auto_failback {new}'"
            )
            cfg.auto_failback = new
        elif directive == "use_logd":
            cfg.use_logd = parsed
        elif directive == "traditional_compression":
            cfg.traditional_compression = parsed
        return
    if kind == "failback":
        if value.lower() == "legacy":
            cfg.auto_failback = "legacy"
            return
        parsed = _parse_bool(value)
        if parsed is None:
            bad(f"invalid value [{_cut(value)}], expected on, off or legacy")
            return
        cfg.auto_failback = "on" if parsed else "off"
        return
    if kind == "crm":
        parsed = _parse_bool(value)
        if parsed is not None:
            cfg.crm = "on" if parsed else "off"
        elif value.lower() in _CRM_VALUES:
            cfg.crm = value.lower()
        else:
            bad(f"invalid value [{_cut(value)}], expected on, off, {', '.join(_CRM_VALUES)}")
        return
    if kind in ("int", "posint", "hopfudge", "debug"):
        if not _is_uint(value.removeprefix("-")):
            bad(f"invalid number [{_cut(value)}] (at most {MAX_NUMBER_DIGITS} digits)")
            return
        number = int(value)
        if kind == "posint" and number <= 0:
            bad(f"must be a positive number, got [{_cut(value)}]")
        elif kind in ("hopfudge", "debug") and not 0 <= number <= 255:
            bad(f"must be between 0 and 255, got [{_cut(value)}]")
        elif directive == "hopfudge":
            cfg.hopfudge = number
        elif directive == "max_rexmit_delay":
            cfg.max_rexmit_delay_ms = number
        elif directive == "compression_threshold":
            cfg.compression_threshold_kib = number
        return
    if kind == "facility":
        if value.lower() not in _FACILITIES:
            bad(f"Log facility({value}) not valid")
            return
        cfg.logfacility = value.lower()
        return
    if kind == "baud":
        if value not in _BAUD_RATES:
            bad(f"invalid baudrate [{_cut(value)}] specified")
        return
    if kind == "env":
        if "=" not in value or value.startswith("="):
            bad(f"expected NAME=value, got [{_cut(value)}]")
        return
    # free text
    if directive == "logfile":
        cfg.logfile = value
    elif directive == "debugfile":
        cfg.debugfile = value
    elif directive == "compression":
        cfg.compression = value
    elif directive == "ping":
        cfg.ping.append(value)


def _parse_mcast(rest: str, cfg: HaCf, errs: _Collector, lineno: int) -> None:
    words = rest.split()
    if len(words) < 5:
        errs.add(lineno, "mcast: expected 'mcast <dev> <group> <port> <ttl> <loop>'")
        return
    dev, group, port, ttl, loop = words[:5]
    problems = []
    if not _IFNAME_RE.match(dev):
        problems.append(f"invalid interface name [{_cut(dev)}]")
    if not _is_ipv4(group) or not ipaddress.IPv4Address(group).is_multicast:
        problems.append(f"[{_cut(group)}] is not an IPv4 multicast address")
    if not _is_uint(port, 5) or not 0 < int(port) < 65536:
        problems.append(f"invalid port [{_cut(port)}]")
    if ttl not in ("0", "1", "2", "3", "4"):
        problems.append(f"ttl must be 0..4, got [{_cut(ttl)}]")
    if loop not in ("0", "1"):
        problems.append(f"loop must be 0 or 1, got [{_cut(loop)}]")
    for problem in problems:
        errs.add(lineno, f"mcast: {problem}")
    if not problems:
        _add_medium(
            cfg, errs, lineno, Medium("mcast", dev, group, int(port), int(ttl), int(loop), line=lineno)
        )


def _parse_ucast(rest: str, cfg: HaCf, errs: _Collector, lineno: int) -> None:
    words = rest.split()
    if len(words) < 2:
        errs.add(lineno, "ucast: expected 'ucast <dev> <peer-address>'")
        return
    dev, peer = words[:2]
    if not _IFNAME_RE.match(dev):
        errs.add(lineno, f"ucast: invalid interface name [{_cut(dev)}]")
    elif not (_is_ipv4(peer) or (_HOSTNAME_RE.match(peer) and not re.fullmatch(r"[0-9.]+", peer))):
        errs.add(lineno, f"ucast: invalid peer address [{_cut(peer)}]")
    else:
        if len(words) > 2:
            cfg.warnings.append(
                f"{errs.path}:{lineno}: ucast takes one peer per line; ignored: {' '.join(words[2:])}"
            )
        _add_medium(cfg, errs, lineno, Medium("ucast", dev, peer, cfg.udpport, line=lineno))


def _add_medium(cfg: HaCf, errs: _Collector, lineno: int, medium: Medium) -> None:
    if len(cfg.media) >= MAX_MEDIA:
        errs.add(lineno, f"Too many media specified (> {MAX_MEDIA})")
    else:
        cfg.media.append(medium)


def _finish_ha_cf(
    cfg: HaCf, errs: _Collector, seen: dict[str, int], explicit: set[str], other_media: int
) -> None:
    """Defaults, derived values and the cross checks of init_config()."""
    if not cfg.media and not other_media:
        errs.add(None, "No heartbeat media defined (bcast, mcast or ucast)")
    if not cfg.nodes and cfg.autojoin != "any":
        errs.add(None, "no nodes defined (node directive)")
    if "warntime" not in explicit:
        cfg.warntime_ms = cfg.deadtime_ms // 2
    if cfg.deadtime_ms <= 2 * cfg.keepalive_ms:
        errs.add(
            max((seen[d] for d in ("deadtime", "keepalive") if d in seen), default=None),
            f"Dead time [{cfg.deadtime_ms}] is too small compared to keeplive [{cfg.keepalive_ms}]"
            " (deadtime must be more than twice keepalive)",
        )
    if "initdead" not in explicit:
        if cfg.deadtime_ms > 10000:
            cfg.initdead_ms = cfg.deadtime_ms
        elif cfg.deadtime_ms < 6000:
            cfg.initdead_ms = 12000
        else:
            cfg.initdead_ms = 2 * cfg.deadtime_ms
    if cfg.initdead_ms < cfg.deadtime_ms:
        errs.add(
            seen.get("initdead"),
            f"Initial dead time [{cfg.initdead_ms}] is smaller than deadtime [{cfg.deadtime_ms}]",
        )
    elif cfg.initdead_ms < 10000:
        cfg.warnings.append(f"{errs.path}: Initial dead time [{cfg.initdead_ms} ms] may be too small!")
    if "deadping" not in explicit:
        cfg.deadping_ms = cfg.deadtime_ms
    elif cfg.deadping_ms <= 2 * cfg.keepalive_ms:
        errs.add(
            seen.get("deadping"),
            f"Ping dead time [{cfg.deadping_ms}] is too small compared to keeplive [{cfg.keepalive_ms}]",
        )
    no_log_target = cfg.logfile is None and cfg.debugfile is None and cfg.logfacility in (None, "none")
    if no_log_target and cfg.use_logd is False:
        errs.add(seen.get("use_logd"), "No log entry found in ha.cf and use_logd is set to off")
    if cfg.autojoin != "none" and not cfg.crm_enabled:
        errs.add(
            seen.get("autojoin"),
            "R1 style resource management conflicts with autojoin set (unset autojoin or enable crm)",
        )
    if cfg.auto_failback == "legacy" and not cfg.crm_enabled:
        cfg.warnings.append(f"{errs.path}: Deprecated 'legacy' auto_failback option selected.")


_STONITH_TYPE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*(/[A-Za-z0-9_][A-Za-z0-9_.+-]*)?$")


def _is_host(text: str) -> bool:
    return _is_ipv4(text) or (bool(_HOSTNAME_RE.match(text)) and not re.fullmatch(r"[\d.]+", text))


def _parse_ping_and_stonith(cfg: HaCf, errs: _Collector) -> None:
    """ping / ping_group nodes and stonith devices, from the directives already collected."""
    ping_names: dict[str, int] = {}

    def add_ping_name(name: str, lineno: int) -> bool:
        if name in cfg.nodes:
            errs.add(lineno, f"ping node [{name}] is also a cluster node")
        elif name in ping_names:
            errs.add(lineno, f"ping node [{name}] given twice (first on line {ping_names[name]})")
        else:
            ping_names[name] = lineno
            return True
        return False

    for directive, value, lineno in cfg.directives:
        if directive == "ping":
            if not _is_host(value):
                errs.add(lineno, f"ping: [{value}] is not an IPv4 address or host name")
            else:
                add_ping_name(value.lower(), lineno)
        elif directive == "ping_group":
            name, *hosts = value.split()
            bad = [h for h in hosts if not _is_host(h)]
            if not hosts:
                errs.add(lineno, "ping_group: expected 'ping_group <name> <host> [<host>…]'")
            elif bad:
                errs.add(lineno, f"ping_group {name}: [{bad[0]}] is not an IPv4 address or host name")
            elif add_ping_name(name.lower(), lineno):
                cfg.ping_groups.append(PingGroup(name.lower(), hosts, line=lineno))
        elif directive in ("stonith", "stonith_host"):
            words = value.split(None, 2 if directive == "stonith_host" else 1)
            host = words.pop(0).lower() if directive == "stonith_host" and words else None
            if not words or (directive == "stonith" and len(words) < 2):
                usage = "stonith <type> <config-file>" if directive == "stonith" else (
                    "stonith_host <node|*> <type> <parameters>")  # fmt: skip
                errs.add(lineno, f"{directive}: expected '{usage}'")
            elif not _STONITH_TYPE_RE.match(words[0]):
                errs.add(lineno, f"{directive}: invalid STONITH device type [{words[0]}]")
            else:
                if host is not None and host != "*" and host not in cfg.nodes:
                    cfg.warnings.append(f"{errs.path}:{lineno}: stonith_host [{host}] is neither '*' nor a "
                                        "node of this cluster: no node uses this line")  # fmt: skip
                config = words[1].strip() if len(words) > 1 else ""
                cfg.stonith.append(StonithDevice(directive, words[0], host, config, line=lineno))


# --------------------------------------------------------------------------------------------
# haresources

_IPV4_WORD_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")  # ResourceManager's "looks like an IP" test
_SCRIPT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


def _check_ipaddr_args(args: list[str]) -> str | None:
    """IPaddr/IPaddr2 argument: ip[/netmask[/nic-or-broadcast[/broadcast]]]."""
    if not args:
        return "needs an address argument (IPaddr::<ip>[/<netmask>[/<nic>]])"
    parts = args[0].split("/")
    if not _is_ipv4(parts[0]):
        return f"[{parts[0]}] is not an IPv4 address"
    if len(parts) > 1:
        mask = parts[1]
        if not ((_is_uint(mask, 2) and 0 <= int(mask) <= 32) or _is_ipv4(mask)):
            return f"invalid netmask [{mask}] (CIDR bits or dotted quad)"
    if len(parts) > 2 and not parts[2]:
        return "empty interface/broadcast part"
    if len(parts) > 4:
        return f"too many '/' parts in [{args[0]}]"
    return None


def _parse_resource(word: str) -> tuple[Resource | None, str | None]:
    if "::" in word:
        name, *args = word.split("::")
    elif _IPV4_WORD_RE.match(word):
        name, args = "IPaddr", [word]
    else:
        name, args = word, []
    if not name or not _SCRIPT_RE.match(name):
        return None, f"invalid resource script name [{name}] in [{word}]"
    if any(a == "" for a in args):
        return None, f"empty argument in [{word}]"
    if name in ("IPaddr", "IPaddr2"):
        problem = _check_ipaddr_args(args)
        if problem:
            return None, f"{word}: {problem}"
    return Resource(word, name, args), None


def parse_haresources(
    text: str, path: str = "/etc/ha.d/haresources", nodes: list[str] | None = None
) -> list[ResourceGroup]:
    """Parse haresources; with `nodes`, every group's node must be one of them."""
    errs = _Collector(path)
    known = [n.lower() for n in nodes] if nodes is not None else None
    groups: list[ResourceGroup] = []
    keys: dict[str, int] = {}
    logical: list[tuple[int, str]] = []  # (first physical line, joined text)
    pending: tuple[int, str] | None = None

    for lineno, raw in _lines(text, errs):
        body = raw.split("#", 1)[0]
        stripped = body.rstrip()
        continued = stripped.endswith("\\")
        if continued and not body.endswith("\\"):
            errs.add(lineno, "text or whitespace after the line-continuation backslash")
        if continued:
            stripped = stripped[:-1]
        start, acc = pending if pending else (lineno, "")
        acc = f"{acc} {stripped}"
        if continued:
            pending = (start, acc)
        else:
            pending = None
            logical.append((start, acc))
    if pending:
        errs.add(pending[0], "line continuation backslash at end of file")
        logical.append(pending)

    for lineno, joined in logical:
        words = joined.split()
        if not words:
            continue
        node = words[0].lower()
        if known is not None and node not in known:
            errs.add(lineno, f"Bad nodename in {path} [{words[0]}] (not a node of ha.cf: {' '.join(known)})")
            continue
        if len(words) < 2:
            errs.add(lineno, f"no resources listed for node {words[0]}")
            continue
        resources = []
        for word in words[1:]:
            resource, problem = _parse_resource(word)
            if problem:
                errs.add(lineno, problem)
            else:
                resources.append(resource)
        if len(resources) != len(words) - 1:
            continue
        key = words[1]
        if key in keys:
            errs.add(lineno, f"resource group [{key}] already defined on line {keys[key]}")
            continue
        keys[key] = lineno
        groups.append(ResourceGroup(node, key, resources, line=lineno))
    errs.raise_if_any()
    return groups


# --------------------------------------------------------------------------------------------
# authkeys


_C_SPACE_RE = re.compile(r"[ \t\v\f\r]+")


def _shown(word: str, longest: int) -> str:
    """`[word] ` when it is short and printable, else nothing: an authkeys error must not print a key
    (check-config's output ends up in logs, Ansible's included)."""
    return f"[{word}] " if len(word) <= longest and word.isascii() and word.isprintable() else ""


def _drop_trailing_comment(words: list[str], needed: int) -> list[str]:
    """Words after the `needed` ones start a comment when they begin with '#'."""
    for i in range(needed, len(words)):
        if words[i].startswith("#"):
            return words[:i]
    return words


def parse_authkeys(text: str, path: str = "/etc/ha.d/authkeys", mode: int | None = None) -> AuthKeys:
    """Parse authkeys; `mode` (st_mode) is refused when group/other may read the file."""
    errs = _Collector(path)
    if mode is not None and mode & (stat.S_IRGRP | stat.S_IROTH):
        errs.add(None, f"Bad permissions on keyfile [{path}], 600 recommended.")
    active: int | None = None
    active_line: int | None = None
    auth_lines = 0
    keys: dict[int, tuple[str, bytes | None]] = {}
    key_lines: dict[int, int] = {}
    bad_indexes: set[int] = set()

    def index_of(word: str, lineno: int) -> int | None:
        if not _is_uint(word, 2) or int(word) > MAX_AUTH_INDEX:
            errs.add(lineno, f"invalid authentication index {_shown(word, 4)}(0..{MAX_AUTH_INDEX})")
            return None
        return int(word)

    # key bytes are kept exactly (not only UTF-8, not only printable): only NUL is refused, and words
    # are split on C's white space, as Heartbeat's sscanf() does
    for lineno, raw in _lines(text, errs, printable=False):
        # keys are single words that may contain '#': only whole-line comments exist here
        words = [w for w in _C_SPACE_RE.split(raw) if w]
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "auth":
            words = _drop_trailing_comment(words, 2)
            auth_lines += 1
            if auth_lines > 1:
                errs.add(lineno, f"auth given twice (first on line {active_line})")
            elif len(words) != 2:
                errs.add(lineno, "expected 'auth <n>' (one index)")
            else:
                active, active_line = index_of(words[1], lineno), lineno
            continue
        if len(words) < 2:
            errs.add(lineno, f"Auth line {_shown(words[0], 4)}is invalid (expected '<n> <method> [<key>]')")
            continue
        index = index_of(words[0], lineno)
        if index is None:
            continue
        method = words[1]
        key_words = _drop_trailing_comment(words, 2 if method == "crc" else 3)[2:]
        problem = None
        if index in keys:
            problem = f"authentication index {index} defined twice (first on line {key_lines[index]})"
        elif method not in AUTH_METHODS:
            shown = _shown(method, 8) if re.match(r"(?i)(md|sha|crc|hmac)", method) else ""
            problem = f"unknown authentication method {shown}(crc, md5 or sha1)"
        elif method == "crc" and key_words:
            problem = "method crc takes no key"
        elif method != "crc" and not key_words:
            problem = f"method {method} needs a key"
        elif len(key_words) > 1:
            problem = "the key must be a single word (no spaces or tabs)"
        if problem:
            errs.add(lineno, problem)
            bad_indexes.add(index)
            continue
        key = key_words[0].encode("utf-8", "surrogateescape") if key_words else None
        keys[index] = (method, key)
        key_lines[index] = lineno

    if auth_lines == 0:
        errs.add(None, "No authentication specified (missing 'auth <n>' line)")
    elif active is not None and active not in keys and active not in bad_indexes:
        errs.add(active_line, f"auth {active}: no key line '{active} <method> [<key>]' for this index")
    errs.raise_if_any()
    if active is None:  # every way to leave it unset has recorded an error, raised just above
        raise AssertionError("authkeys parsed cleanly without an active index")
    return AuthKeys(active, keys)


# --------------------------------------------------------------------------------------------
# whole directory


def _read(path: str, errs: list[ConfigError], strict: bool = True) -> tuple[str | None, int | None]:
    try:
        return read_config_file(path, strict)
    except ConfigErrors as exc:
        errs.extend(exc.errors)
        return None, None


def load_config(directory: str = "/etc/ha.d") -> ClusterConfig:
    """ha.cf, haresources and authkeys of `directory`, cross-checked; every error at once."""
    errors: list[ConfigError] = []
    paths = {name: os.path.join(directory, name) for name in ("ha.cf", "haresources", "authkeys")}
    ha_cf = resources = authkeys = None

    nodes = None
    text, _mode = _read(paths["ha.cf"], errors)
    if text is not None:
        partial, ha_errs = _parse_ha_cf(text, paths["ha.cf"])
        errors.extend(ha_errs.errors)
        ha_cf = None if ha_errs.errors else partial
        nodes = partial.nodes or None  # still cross-check haresources when ha.cf has other errors

    text, mode = _read(paths["authkeys"], errors, strict=False)
    if text is not None:
        try:
            authkeys = parse_authkeys(text, paths["authkeys"], mode)
        except ConfigErrors as exc:
            errors.extend(exc.errors)

    need_resources = ha_cf is None or not ha_cf.crm_enabled
    if need_resources or os.path.exists(paths["haresources"]):
        text, _mode = _read(paths["haresources"], errors)
        if text is not None:
            try:
                resources = parse_haresources(text, paths["haresources"], nodes)
            except ConfigErrors as exc:
                errors.extend(exc.errors)
    else:
        resources = []
    if errors:
        raise ConfigErrors(errors)
    return ClusterConfig(ha_cf, resources, authkeys, directory)


# --------------------------------------------------------------------------------------------
# safety (check-config and the role's preflight): legal, but one failure away from two holders


def _sibling(path: str, name: str) -> str:
    """`name` in the directory of `path` (authkeys beside ha.cf)."""
    return os.path.join(os.path.dirname(path), name) if os.path.dirname(path) else name


def crc_warning(authkeys: AuthKeys, path: str = "authkeys") -> str | None:
    """The warning about crc keys that every checker gives; None when no key uses crc."""
    indexes = sorted(i for i, (method, _key) in authkeys.keys.items() if method == "crc")
    if not indexes:
        return None
    return (
        f"{path}: index {', '.join(map(str, indexes))} uses crc, which authenticates nothing: anyone on the "
        "network can forge every packet (Heartbeat 3.0.6 accepts it the same). Use md5 or sha1; to keep crc "
        "anyway, set `allow_crc yes` in hbagent.conf (or pass --allow-crc)"
    )


def safety_warnings(ha_cf: HaCf, authkeys: AuthKeys | None = None, allow_crc: bool = False) -> list[str]:
    """Combinations Heartbeat accepts that leave a pair open to split brain or forged messages."""
    found = []
    crc = None if authkeys is None or allow_crc else crc_warning(authkeys, _sibling(ha_cf.path, "authkeys"))
    if crc:
        found.append(crc)
    links = {m.dev for m in ha_cf.media}
    if len(links) == 1 and not (ha_cf.ping or ha_cf.ping_groups):
        dev = next(iter(links))
        found.append(
            f"{ha_cf.path}: one heartbeat link ({dev}) and no ping node: if that link fails, both nodes take the "
            "resources (split brain); add a second medium on another network, or ping nodes"
        )
    return found


# --------------------------------------------------------------------------------------------
# rendering (role templates); the output is re-parsed, errors name the input variable


class _Renderer:
    """Collects output lines, remembers which input variable produced each line."""

    def __init__(self, prefix: str, unlocated: dict[str, str] | None = None):
        self.prefix = prefix
        self.unlocated = unlocated or {}  # reason prefix -> variable, for file-wide errors
        self.lines: list[str] = []
        self.origin: dict[int, str] = {}
        self.errors: list[ConfigError] = []

    def emit(self, var: str, line: str) -> None:
        self.lines.append(line)
        self.origin[len(self.lines)] = var

    def error(self, var: str, reason: str) -> None:
        self.errors.append(ConfigError(var, None, reason))

    def word(self, var: str, value, what: str = "value") -> str | None:
        """A single config word: scalar, no whitespace, comma or '#'."""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or _huge(value):
            self.error(var, f"must be a {what} (string), got {type(value).__name__} {_short_repr(value)}")
            return None
        text = str(value)
        if not text or re.search(r"[\s,#]", text):
            self.error(
                var, f"invalid {what} {_short_repr(text)}: must be one word without spaces, commas or '#'"
            )
            return None
        return text

    def text(self) -> str:
        return "\n".join(self.lines) + "\n" if self.lines else ""

    def reparse(self, parse, *args, **kwargs):
        if self.errors:
            raise ConfigErrors(self.errors)
        rendered = self.text()
        try:
            parse(rendered, f"<{self.prefix}>", *args, **kwargs)
        except ConfigErrors as exc:
            blamed = [self._blame(e) for e in exc.errors]
            # "no media" only follows from a medium refused above: report the cause alone
            causes = {e.path for e in blamed if e.path not in self.unlocated.values()}
            kept = [e for e in blamed if not any(c.startswith(e.path + "[") for c in causes)]
            raise ConfigErrors(kept) from None
        return rendered

    def _blame(self, error: ConfigError) -> ConfigError:
        var = self.origin.get(error.line) if error.line is not None else None
        if var is None:
            matches = [v for start, v in self.unlocated.items() if error.reason.startswith(start)]
            var = matches[0] if matches else self.prefix
        return ConfigError(var, None, error.reason)


def _time_word(r: _Renderer, var: str, value) -> str | None:
    if isinstance(value, bool):
        r.error(var, f'must be seconds (number) or a time such as "500ms", got {_short_repr(value)}')
        return None
    if isinstance(value, int):
        text = str(value) if abs(value) < 10**12 else None
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= 1e12:
            text = None
        else:
            text = str(int(value)) if value.is_integer() else f"{round(value * 1000)}ms"
    elif isinstance(value, str):
        text = value.strip()
    else:
        text = None
    if text is None or parse_msec(text) is None:
        r.error(var, f'must be seconds (number) or a time such as "500ms", got {_short_repr(value)}')
        return None
    return text


def _huge(value) -> bool:
    """An int too large to print (str() refuses more than 4,300 digits): refused as a value."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**100


def _short_repr(value) -> str:
    """repr() for an error message, short, and never an exception (repr() of a structure holding a
    huge int raises ValueError)."""
    if _huge(value):
        return f"<int of {value.bit_length()} bits>"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__} that cannot be shown>"
    return text if len(text) <= 200 else text[:200] + "…"


def _key_name(key) -> str:
    """A mapping key as part of a variable name in an error."""
    return key if isinstance(key, str) else _short_repr(key)


def _small_uint(value, max_digits: int) -> int | None:
    """An int, or a string of ASCII digits, of at most max_digits digits (never str() of a huge int)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 10**max_digits else None
    return int(value) if _is_uint(value, max_digits) else None


def _is_port_value(value) -> bool:
    number = _small_uint(value, 5)
    return number is not None and 0 < number < 65536


def _is_index_value(value) -> bool:
    number = _small_uint(value, 2)
    return number is not None and number <= MAX_AUTH_INDEX


def _as_list(r: _Renderer, var: str, value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    r.error(var, f"must be a list, got {type(value).__name__} {_short_repr(value)}")
    return []


_HA_CF_KEYS = (
    "nodes", "keepalive", "warntime", "deadtime", "initdead", "udpport", "media", "auto_failback",
    "ping", "crm", "logfile", "debugfile", "logfacility", "extra",
)  # fmt: skip
# extras may not override what has a first-class setting (it would be applied twice)
_FIRST_CLASS = {
    "node": "nodes", "keepalive": "keepalive", "warntime": "warntime", "deadtime": "deadtime",
    "initdead": "initdead", "udpport": "udpport", "bcast": "media", "mcast": "media", "ucast": "media",
    "udp": "media", "auto_failback": "auto_failback", "nice_failback": "auto_failback", "ping": "ping",
    "crm": "crm", "pacemaker": "crm", "logfile": "logfile", "debugfile": "debugfile",
    "logfacility": "logfacility",
}  # fmt: skip


def render_ha_cf(settings: dict) -> str:
    """ha.cf text from the role's `ha_cf` dict, in the directive order Heartbeat requires."""
    r = _Renderer("ha_cf", {"No heartbeat media": "ha_cf.media", "no nodes": "ha_cf.nodes"})
    if not isinstance(settings, dict):
        raise ConfigErrors([ConfigError("ha_cf", None, f"must be a mapping, got {type(settings).__name__}")])
    for key in settings:
        if key not in _HA_CF_KEYS:
            r.error(f"ha_cf.{_key_name(key)}", f"unknown setting (known: {', '.join(_HA_CF_KEYS)})")

    for key in ("logfile", "debugfile", "logfacility"):
        if settings.get(key) is not None:
            value = r.word(f"ha_cf.{key}", settings[key], key)
            if value is not None:
                r.emit(f"ha_cf.{key}", f"{key} {value}")
    for key in ("keepalive", "warntime", "deadtime", "initdead"):
        if settings.get(key) is not None:
            value = _time_word(r, f"ha_cf.{key}", settings[key])
            if value is not None:
                r.emit(f"ha_cf.{key}", f"{key} {value}")
    udpport = settings.get("udpport")
    if udpport is not None:
        if not _is_port_value(udpport):
            r.error("ha_cf.udpport", f"must be a port number 1..65535, got {_short_repr(udpport)}")
        else:
            r.emit("ha_cf.udpport", f"udpport {int(udpport)}")
    for i, medium in enumerate(_as_list(r, "ha_cf.media", settings.get("media"))):
        _render_medium(r, f"ha_cf.media[{i}]", medium)
    for i, node in enumerate(_as_list(r, "ha_cf.nodes", settings.get("nodes"))):
        value = r.word(f"ha_cf.nodes[{i}]", node, "node name")
        if value is not None:
            r.emit(f"ha_cf.nodes[{i}]", f"node {value}")
    failback = settings.get("auto_failback")
    if failback is not None:
        # YAML 1.1 turns an unquoted on/off into a boolean: accept it
        text = {True: "on", False: "off"}.get(failback, failback) if isinstance(failback, bool) else failback
        value = r.word("ha_cf.auto_failback", text, "auto_failback value (on, off or legacy)")
        if value is not None:
            r.emit("ha_cf.auto_failback", f"auto_failback {value}")
    for i, host in enumerate(_as_list(r, "ha_cf.ping", settings.get("ping"))):
        value = r.word(f"ha_cf.ping[{i}]", host, "ping address")
        if value is not None:
            r.emit(f"ha_cf.ping[{i}]", f"ping {value}")
    crm = settings.get("crm")
    if crm is not None:
        text = {True: "on", False: "off"}.get(crm, crm) if isinstance(crm, bool) else crm
        value = r.word("ha_cf.crm", text, "crm value")
        if value is not None:
            r.emit("ha_cf.crm", f"crm {value}")
    for i, item in enumerate(_as_list(r, "ha_cf.extra", settings.get("extra"))):
        _render_extra(r, f"ha_cf.extra[{i}]", item)
    return r.reparse(parse_ha_cf)


def _render_medium(r: _Renderer, var: str, medium) -> None:
    if not isinstance(medium, dict):
        r.error(var, f"must be a mapping with a 'type' (bcast, mcast, ucast), got {_short_repr(medium)}")
        return
    kind = medium.get("type")
    allowed = {
        "bcast": {"type", "interfaces", "interface"},
        "ucast": {"type", "interface", "peer", "peers"},
        "mcast": {"type", "interface", "group", "port", "ttl", "loop"},
    }
    if kind not in allowed:
        r.error(f"{var}.type", f"must be bcast, mcast or ucast, got {_short_repr(kind)}")
        return
    for key in medium:
        if key not in allowed[kind]:
            r.error(
                f"{var}.{_key_name(key)}",
                f"unknown key for a {kind} medium (known: {', '.join(sorted(allowed[kind]))})",
            )
    if kind == "bcast":
        if "interfaces" in medium:
            names = _as_list(r, f"{var}.interfaces", medium["interfaces"])
            where = [f"{var}.interfaces[{i}]" for i in range(len(names))]
        else:
            names, where = [medium.get("interface")], [f"{var}.interface"]
        words = [r.word(w, n, "interface name") for w, n in zip(where, names, strict=True)]
        if not names:
            r.error(f"{var}.interfaces", "needs at least one interface")
        elif None not in words:
            r.emit(var, "bcast " + " ".join(words))
        return
    dev = r.word(f"{var}.interface", medium.get("interface"), "interface name")
    if kind == "ucast":
        if "peers" in medium:
            peers = _as_list(r, f"{var}.peers", medium["peers"])
            where = [f"{var}.peers[{i}]" for i in range(len(peers))]
        else:
            peers, where = [medium.get("peer")], [f"{var}.peer"]
        if not peers:
            r.error(f"{var}.peers", "needs at least one peer address")
        for w, peer in zip(where, peers, strict=True):
            address = r.word(w, peer, "peer address")
            if dev is not None and address is not None:
                r.emit(w, f"ucast {dev} {address}")
        return
    group = r.word(f"{var}.group", medium.get("group"), "multicast group")
    port = r.word(f"{var}.port", medium.get("port", DEFAULT_UDPPORT), "port")
    ttl = r.word(f"{var}.ttl", medium.get("ttl", 1), "ttl (0..4)")
    loop = r.word(f"{var}.loop", medium.get("loop", 0), "loop (0 or 1)")
    if None not in (dev, group, port, ttl, loop):
        r.emit(var, f"mcast {dev} {group} {port} {ttl} {loop}")


def _render_extra(r: _Renderer, var: str, item) -> None:
    if not isinstance(item, (list, tuple)) or len(item) != 2:
        r.error(var, f"must be a [directive, value] pair, got {_short_repr(item)}")
        return
    directive = r.word(f"{var}[0]", item[0], "directive name")
    if directive is None:
        return
    if directive in _FIRST_CLASS:
        r.error(var, f"'{directive}' is set through ha_cf.{_FIRST_CLASS[directive]}, not ha_cf.extra")
        return
    value = item[1]
    if isinstance(value, bool):
        value = "on" if value else "off"
    if isinstance(value, (list, tuple)):
        words = [r.word(f"{var}[1][{i}]", v) for i, v in enumerate(value)]
        if None in words or not words:
            if not words:
                r.error(f"{var}[1]", "needs a value")
            return
        text = " ".join(words)
    elif (
        isinstance(value, (str, int, float))
        and not _huge(value)
        and str(value).strip()
        and not re.search(r"[\n\r#]", str(value))
    ):
        text = str(value).strip()
    else:
        r.error(f"{var}[1]", f"invalid value {_short_repr(value)} (one line, no '#')")
        return
    r.emit(var, f"{directive} {text}")


def render_haresources(groups: list, nodes: list[str] | None = None) -> str:
    """haresources text, one group per line; with `nodes`, group nodes are checked too."""
    r = _Renderer("haresources")
    for i, group in enumerate(_as_list(r, "haresources", groups)):
        var = f"haresources[{i}]"
        if not isinstance(group, dict):
            r.error(var, f"must be a mapping {{node: ..., resources: [...]}}, got {_short_repr(group)}")
            continue
        for key in group:
            if key not in ("node", "resources"):
                r.error(f"{var}.{_key_name(key)}", "unknown key (known: node, resources)")
        node = r.word(f"{var}.node", group.get("node"), "node name")
        resources = _as_list(r, f"{var}.resources", group.get("resources"))
        if not resources:
            if isinstance(group.get("resources"), (list, tuple, type(None))):
                r.error(f"{var}.resources", "needs at least one resource")
            continue
        words = [r.word(f"{var}.resources[{j}]", res, "resource") for j, res in enumerate(resources)]
        if node is not None and nodes is not None and node.lower() not in [n.lower() for n in nodes]:
            r.error(f"{var}.node", f"{node} is not a cluster node ({', '.join(nodes)})")
            continue
        if node is None or None in words:
            continue
        # one line per group: errors on that line are blamed on the precise resource when possible
        r.emit(var, " ".join([node, *words]))
        for j, word in enumerate(words):
            _resource, problem = _parse_resource(word)
            if problem:
                r.error(f"{var}.resources[{j}]", problem)
    if r.errors:
        raise ConfigErrors(r.errors)
    return r.reparse(parse_haresources, nodes=nodes)


def render_authkeys(settings: dict) -> str:
    """authkeys text from {active: n, keys: {n: {method: md5, key: ...}}}."""
    r = _Renderer("authkeys")
    if not isinstance(settings, dict):
        raise ConfigErrors(
            [ConfigError("authkeys", None, f"must be a mapping, got {type(settings).__name__}")]
        )
    for key in settings:
        if key not in ("active", "keys"):
            r.error(f"authkeys.{_key_name(key)}", "unknown setting (known: active, keys)")
    active = settings.get("active")
    if not _is_index_value(active):
        r.error("authkeys.active", f"must be an index 0..{MAX_AUTH_INDEX}, got {_short_repr(active)}")
    else:
        r.emit("authkeys.active", f"auth {int(active)}")
    keys = settings.get("keys")
    if not isinstance(keys, dict) or not keys:
        r.error(
            "authkeys.keys", f"must be a non-empty mapping index -> {{method, key}}, got {_short_repr(keys)}"
        )
        keys = {}
    for index, entry in keys.items():
        var = f"authkeys.keys.{_key_name(index)}"
        if not _is_index_value(index):
            r.error(var, f"index must be 0..{MAX_AUTH_INDEX}, got {_short_repr(index)}")
            continue
        if not isinstance(entry, dict):
            r.error(var, f"must be a mapping {{method: md5|sha1|crc, key: ...}}, got {type(entry).__name__}")
            continue
        for key in entry:
            if key not in ("method", "key"):
                r.error(f"{var}.{_key_name(key)}", "unknown key (known: method, key)")
        method = entry.get("method")
        if method not in AUTH_METHODS:
            r.error(f"{var}.method", f"must be one of {', '.join(AUTH_METHODS)}, got {_short_repr(method)}")
            continue
        line = f"{int(index)} {method}"
        if method == "crc":
            if entry.get("key") not in (None, ""):
                r.error(f"{var}.key", "method crc takes no key")
                continue
        else:
            key = entry.get("key")
            if not isinstance(key, (str, int)) or isinstance(key, bool) or _huge(key) or not str(key):
                r.error(f"{var}.key", f"method {method} needs a key (non-empty string)")
                continue
            if re.search(r"\s", str(key)):
                r.error(f"{var}.key", "the key must be a single word (no spaces, tabs or newlines)")
                continue
            line += f" {key}"
        r.emit(var, line)
    return r.reparse(parse_authkeys)
