# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hakit content sync on a cluster node (stdlib only, Python 3.11+). Installed by the
hakit.heartbeat.content_sync role at /usr/local/lib/hakit/content_sync.py; every mode reads the
role's JSON configuration (--config).

  resource start|stop|status   the cluster resource (/etc/ha.d/resource.d/content-sync runs it, under
                               Heartbeat and hbagent alike). start: bring the copy up to date from the
                               peer when the peer's copy is newer, then run lsyncd, which pushes every
                               change to the peer. stop: stop lsyncd, then one last push to the peer.
  remote                       the forced command of the sync's ssh key (SSH_ORIGINAL_COMMAND): the
                               rsync server on a configured directory, or `hakit-content-sync epoch`
  reach                        the role's preflight: listen on the sync port, connect to the peer's

The serving node is the source of truth. Each node keeps the time it last started serving (its epoch,
in state_dir); the flag file `serving_flag` (under /run, so a reboot clears it) says it serves now. A
taker pulls from the peer only when the peer's epoch is newer than its own, and a node that serves
refuses every push, so a node that comes back never overwrites newer content. Every file a sync
replaces or deletes is first moved to a backup directory on the receiving node.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
import socket
import subprocess
import sys
import syslog
import time
from dataclasses import dataclass, field

DEFAULT_CONFIG = "/etc/hakit-content-sync/config.json"
TAG = "hakit-content-sync"
RSYNC = "/usr/bin/rsync"
SSH = "/usr/bin/ssh"
SYSTEMCTL = "/usr/bin/systemctl"
# the backup sub-directory a push (lsyncd or the flush at stop) may name on the receiver
LIVE_BACKUP = "live"

# Paths the role accepts (its preflight says so): no space, quote, backslash or shell character, so a
# path is one word on an ssh command line and one literal in lsyncd's configuration.
SAFE_PATH_RE = re.compile(r"^/[A-Za-z0-9._@+/-]*$")


class ConfigError(ValueError):
    """The configuration file is missing or wrong; the message names the file and the key."""


class Refused(ValueError):
    """A forced-command request this node does not serve; the message says why."""


@dataclass(frozen=True)
class Config:
    node: str
    peer: str
    peer_address: str
    port: int
    directories: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    state_dir: str = "/var/lib/hakit-content-sync"
    backup_dir: str = "/var/lib/hakit-content-sync/backup"
    serving_flag: str = "/run/hakit-content-sync.serving"
    key: str = "/etc/hakit-content-sync/id_ed25519"
    known_hosts: str = "/etc/hakit-content-sync/known_hosts"
    unit: str = "hakit-content-sync.service"
    connect_timeout: int = 3
    pull_timeout: int = 90
    flush_timeout: int = 30
    io_timeout: int = 30

    @property
    def epoch_file(self) -> str:
        return f"{self.state_dir}/epoch"

    @property
    def last_start_file(self) -> str:
        return f"{self.state_dir}/last-start.json"


_REQUIRED = ("node", "peer", "peer_address", "port", "directories")
_INTS = ("port", "connect_timeout", "pull_timeout", "flush_timeout", "io_timeout")
_PATHS = ("state_dir", "backup_dir", "serving_flag", "key", "known_hosts")


def parse_config(data: object, path: str = DEFAULT_CONFIG) -> Config:
    """A Config from the role's JSON object; ConfigError names the file and the key that is wrong."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    known = set(Config.__dataclass_fields__)
    values = {key: value for key, value in data.items() if key in known}
    missing = [key for key in _REQUIRED if key not in values]
    if missing:
        raise ConfigError(f"{path}: missing {', '.join(missing)}")
    for key in _INTS:
        if key in values and (
            not isinstance(values[key], int) or isinstance(values[key], bool) or values[key] < 1
        ):
            raise ConfigError(f"{path}: {key} must be a positive integer, got {values[key]!r}")
    if values["port"] > 65535:
        raise ConfigError(f"{path}: port must be 1-65535, got {values['port']}")
    for key in ("node", "peer", "peer_address", "unit"):
        if key in values and (
            not isinstance(values[key], str) or not re.fullmatch(r"[A-Za-z0-9._@-]+", values[key])
        ):
            raise ConfigError(f"{path}: {key} must be a name or an IPv4 address, got {values.get(key)!r}")
    directories = values["directories"]
    if not isinstance(directories, list) or not directories:
        raise ConfigError(f"{path}: directories must be a non-empty list")
    for key, value in [
        *(("directories", d) for d in directories),
        *((k, values[k]) for k in _PATHS if k in values),
    ]:
        if not isinstance(value, str) or not SAFE_PATH_RE.match(value) or value != os.path.normpath(value):
            raise ConfigError(f"{path}: {key}: {value!r} is not a plain absolute path")
    exclude = values.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(p, str) and p and "\n" not in p for p in exclude):
        raise ConfigError(f"{path}: exclude must be a list of rsync patterns, one line each")
    values["directories"] = tuple(directories)
    values["exclude"] = tuple(exclude)
    return Config(**values)


def load_config(path: str) -> Config:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return parse_config(data, path)


# -- commands ---------------------------------------------------------------------------------------


def ssh_options(cfg: Config) -> list[str]:
    """Options of every ssh to the peer: the sync's own key and pinned host key, nothing from ssh_config."""
    return [
        "-F",
        "/dev/null",
        "-p",
        str(cfg.port),
        "-l",
        "root",
        "-i",
        cfg.key,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"UserKnownHostsFile={cfg.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={cfg.connect_timeout}",
        "-o",
        "ServerAliveInterval=2",
        "-o",
        "ServerAliveCountMax=3",
    ]


def rsh(cfg: Config) -> str:
    """rsync's --rsh: the same ssh as ssh_options (rsync splits it on spaces; no option has one)."""
    return " ".join([SSH, *ssh_options(cfg)])


def backup_path(cfg: Config, directory: str, tag: str) -> str:
    return f"{cfg.backup_dir}/{tag}{directory}"


def rsync_options(cfg: Config) -> list[str]:
    """What lsyncd's rsync and this tool's pull/flush share: an exact mirror, owners by number, and
    modification times compared to the nanosecond (--modify-window=-1): rsync's quick check otherwise
    takes two versions of the same size saved within one second for the same file, and skips the second."""
    return ["-a", "--numeric-ids", "--modify-window=-1", "--delete", f"--timeout={cfg.io_timeout}"]


def exclude_args(cfg: Config) -> list[str]:
    return [f"--exclude={pattern}" for pattern in cfg.exclude]


def pull_argv(cfg: Config, directory: str, tag: str) -> list[str]:
    """Bring DIRECTORY here from the peer; what it replaces or deletes goes to backup/<tag>/DIRECTORY."""
    return [
        RSYNC,
        *rsync_options(cfg),
        "--backup",
        f"--backup-dir={backup_path(cfg, directory, tag)}",
        "-e",
        rsh(cfg),
        *exclude_args(cfg),
        f"{cfg.peer_address}:{directory}/",
        f"{directory}/",
    ]


def push_argv(cfg: Config, directory: str) -> list[str]:
    """DIRECTORY to the peer, as lsyncd's own startup sync does (the peer keeps what it loses as backup)."""
    return [
        RSYNC,
        *rsync_options(cfg),
        "--backup",
        f"--backup-dir={backup_path(cfg, directory, LIVE_BACKUP)}",
        "-e",
        rsh(cfg),
        *exclude_args(cfg),
        f"{directory}/",
        f"{cfg.peer_address}:{directory}/",
    ]


def epoch_argv(cfg: Config) -> list[str]:
    return [SSH, *ssh_options(cfg), cfg.peer_address, f"{TAG} epoch"]


# -- the takeover rule (pure) ------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerState:
    node: str
    epoch: int  # ns since the epoch at which the peer last started serving; 0: never
    serving: bool


def parse_peer_state(text: str) -> PeerState:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    epoch = data.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError(f"bad epoch {epoch!r}")
    return PeerState(node=str(data.get("node", "")), epoch=epoch, serving=bool(data.get("serving")))


@dataclass(frozen=True)
class Decision:
    pull: bool
    action: str  # pull | keep | unreachable
    message: str


def decide(own_epoch: int, peer: PeerState | None, peer_name: str, error: str = "") -> Decision:
    """Whether a node that is taking over brings its copy from the peer first.

    The copy of the node that started serving last is the newest: pull when the peer's epoch is newer,
    keep the local copy otherwise (the peer then gets it from lsyncd). An unreachable peer cannot be
    asked: serve the local copy, and say that edits the peer had not yet replicated are not here.
    """
    if peer is None:
        return Decision(
            False,
            "unreachable",
            f"peer {peer_name} unreachable ({error or 'no answer'}): serving the local copy as it is; "
            f"edits made on {peer_name} and not yet replicated here are not served (they stay on {peer_name}, "
            "and go to its backup directory when this node's copy is pushed there)",
        )
    if peer.epoch > own_epoch:
        return Decision(
            True,
            "pull",
            f"peer {peer_name} served last (epoch {peer.epoch} > {own_epoch}): pulling its copy before serving"
            + (f"; {peer_name} says it serves too (split brain?)" if peer.serving else ""),
        )
    if peer.epoch == own_epoch == 0:
        reason = "neither node has served yet: this node's copy seeds the peer"
    else:
        reason = f"this node's copy is the newest (epoch {own_epoch} >= {peer_name}'s {peer.epoch})"
    return Decision(
        False,
        "keep",
        f"{reason}; keeping it, lsyncd brings {peer_name} up to date"
        + (
            f"; {peer_name} says it serves too (split brain?): it refuses pushes until it stops"
            if peer.serving
            else ""
        ),
    )


def next_epoch(now_ns: int, own_epoch: int, peer: PeerState | None) -> int:
    """Later than anything this node knows of, even with a clock that stepped back."""
    return max(now_ns, own_epoch + 1, (peer.epoch + 1) if peer else 0)


# -- the forced command (pure validation) ------------------------------------------------------------

# rsync's server-side options, after rrsync's list: short flags without an argument (s: protect-args
# hides the paths from this check; K, L, k follow symlinks out of the directory), the protocol's
# "-e.xyz" capability suffix, and long options; backup-dir is checked against the only allowed value.
_SHORT_RE = re.compile(r"^-(?=.)[ACDEHIJNORSUWXbcdglmnopqrtuvxyz]*(e\d*\.\w*)?$")
# short options with a number: -@N (modify-window; -1 compares nanoseconds), -BN (block size)
_SHORT_NUM_RE = re.compile(r"^-(@-?\d+|B\d+)$")
_LONG_NO_ARG = frozenset(
    {
        "server",
        "sender",
        "delete",
        "delete-after",
        "delete-before",
        "delete-delay",
        "delete-during",
        "delete-excluded",
        "force",
        "ignore-errors",
        "numeric-ids",
        "backup",
        "from0",
        "inplace",
        "partial",
        "no-W",
        "no-implied-dirs",
        "no-r",
        "no-relative",
        "recursive",
        "times",
        "perms",
        "owner",
        "group",
        "links",
        "specials",
        "hard-links",
        "one-file-system",
        "size-only",
        "existing",
        "ignore-existing",
        "ignore-missing-args",
        "safe-links",
        "munge-links",
        "fsync",
        "delay-updates",
        "list-only",
        "copy-unsafe-links",
        "omit-dir-times",
    }
)
_LONG_ARG_RE = {
    "timeout": re.compile(r"^\d+$"),
    "bwlimit": re.compile(r"^\d+(\.\d+)?[KMGkmg]?$"),
    "max-delete": re.compile(r"^\d+$"),
    "modify-window": re.compile(r"^-?\d+$"),
    "compress-level": re.compile(r"^\d+$"),
    "checksum-seed": re.compile(r"^\d+$"),
    "block-size": re.compile(r"^\d+[KMGkmg]?$"),
    "log-format": re.compile(r"^[%A-Za-z0-9 .:_-]*$"),
    "info": re.compile(r"^[A-Za-z0-9,]*$"),
    "debug": re.compile(r"^[A-Za-z0-9,]*$"),
}
_TOKEN_RE = re.compile(r"^[A-Za-z0-9._/=,:%+@-]+$")


def check_remote(command: str, cfg: Config, serving: bool) -> list[str]:
    """The argv to run for SSH_ORIGINAL_COMMAND, or Refused.

    Allowed: `hakit-content-sync epoch`, and `rsync --server [--sender] OPTIONS . DIR[/]` for a configured
    DIR with options from the list above. A push (no --sender) is refused while this node serves: the
    serving node is the source of truth, and only the node that serves pushes.
    """
    words = command.split()
    if words == [TAG, "epoch"]:
        return [TAG, "epoch"]
    if words[:2] != ["rsync", "--server"]:
        raise Refused(f"not an rsync server command: {command[:120]!r}")
    bad = next((w for w in words if not _TOKEN_RE.match(w)), None)
    if bad is not None:
        raise Refused(f"unexpected characters in {bad[:80]!r}")
    try:
        dot = words.index(".")
    except ValueError:
        raise Refused("no '.' argument: not a command rsync sends") from None
    options, paths = words[2:dot], words[dot + 1 :]
    sender = "--sender" in options
    backup_dir = None
    index = 0
    while index < len(options):
        option = options[index]
        index += 1
        if _SHORT_RE.match(option) or _SHORT_NUM_RE.match(option):
            continue
        name, has_value, value = option[2:].partition("=") if option.startswith("--") else ("", "", "")
        if not name:
            raise Refused(f"option {option!r} is not allowed")
        if not has_value and name in _LONG_NO_ARG:
            continue
        if not has_value and (name == "backup-dir" or name in _LONG_ARG_RE) and index < len(options):
            value = options[index]  # rsync sends some values as the next word (--backup-dir DIR)
            index += 1
        if name == "backup-dir":
            backup_dir = value  # rsync sends it to a sender too, which makes no backups
            continue
        if name in _LONG_ARG_RE and _LONG_ARG_RE[name].match(value):
            continue
        raise Refused(f"option {option!r} is not allowed")
    if len(paths) != 1:
        raise Refused(f"expected one directory after '.', got {len(paths)}")
    directory = paths[0].rstrip("/") or "/"
    if directory not in cfg.directories:
        raise Refused(f"{paths[0]} is not a synced directory ({', '.join(cfg.directories)})")
    if backup_dir is not None and not (
        SAFE_PATH_RE.match(backup_dir) and backup_dir.startswith(cfg.backup_dir.rstrip("/") + "/")
    ):
        raise Refused(f"--backup-dir={backup_dir} is not under {cfg.backup_dir}")
    if not sender:
        if serving:
            raise Refused(
                f"{cfg.node} serves {directory}: it is the source of truth and accepts no push"
                " (the other node is stale or in a split brain)"
            )
        if backup_dir is not None and backup_dir.rstrip("/") != backup_path(cfg, directory, LIVE_BACKUP):
            raise Refused(f"--backup-dir={backup_dir} is not this directory's backup directory")
    return [RSYNC, "--server", *options, "--", ".", paths[0]]


# -- node state ----------------------------------------------------------------------------------------


def read_epoch(cfg: Config) -> int:
    try:
        with open(cfg.epoch_file, encoding="utf-8") as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        return 0
    return int(text) if text.isdigit() else 0


def write_atomic(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def is_serving(cfg: Config) -> bool:
    return os.path.exists(cfg.serving_flag)


# -- I/O shell ------------------------------------------------------------------------------------------


@dataclass
class Node:
    """What the resource does to the system; tests replace `run` and `clock`."""

    cfg: Config
    run: object = None  # (argv, timeout) -> (rc, output)
    clock: object = time.time_ns
    messages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.run is None:
            self.run = _run

    def log(self, priority: int, text: str) -> None:
        self.messages.append(text)
        syslog.syslog(priority, text)
        print(text, file=sys.stderr)

    def unit_active(self) -> bool:
        return self.run([SYSTEMCTL, "is-active", "--quiet", self.cfg.unit], 10)[0] == 0

    def peer_state(self) -> tuple[PeerState | None, str]:
        rc, out = self.run(epoch_argv(self.cfg), self.cfg.connect_timeout + 10)
        if rc != 0:
            return None, _last_line(out) or f"ssh exit {rc}"
        try:
            return parse_peer_state(out.strip().splitlines()[-1]), ""
        except (ValueError, IndexError) as exc:
            return None, f"unreadable answer {out.strip()[:120]!r}: {exc}"

    # -- resource actions -------------------------------------------------------------------------
    def start(self) -> int:
        cfg = self.cfg
        if is_serving(cfg):
            # already the source of truth (a second start, or lsyncd died): nothing to pull
            rc, out = self.run([SYSTEMCTL, "start", cfg.unit], 60)
            if rc != 0:
                self.log(
                    syslog.LOG_ERR,
                    f"content-sync: cannot start {cfg.unit}, changes are NOT replicated: {_last_line(out)}",
                )
            return 0
        started = time.monotonic()
        own = read_epoch(cfg)
        peer, error = self.peer_state()
        decision = decide(own, peer, cfg.peer, error)
        self.log(
            syslog.LOG_WARNING if decision.action == "unreachable" else syslog.LOG_INFO,
            f"content-sync: {decision.message}",
        )
        pulled, failures = [], []
        if decision.pull:
            tag = "takeover-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock() / 1e9))
            # one budget for all directories: the engine bounds the whole start (hbagent: 120 s)
            deadline = time.monotonic() + cfg.pull_timeout
            for directory in cfg.directories:
                remaining = deadline - time.monotonic()
                rc, out = (
                    self.run(pull_argv(cfg, directory, tag), remaining)
                    if remaining > 0
                    else (124, "no time left")
                )
                if rc == 0:
                    pulled.append(directory)
                else:
                    failures.append(f"{directory}: {_last_line(out) or f'rsync exit {rc}'}")
            if failures:
                self.log(
                    syslog.LOG_ERR,
                    "content-sync: pull from "
                    + f"{cfg.peer} failed ({'; '.join(failures)}): serving the local copy, partly updated; "
                    + f"{cfg.peer}'s files go to its backup directory when this node's copy is pushed there",
                )
        epoch = next_epoch(self.clock(), own, peer)
        write_atomic(cfg.epoch_file, f"{epoch}\n")
        write_atomic(cfg.serving_flag, f"{epoch}\n")
        rc, out = self.run([SYSTEMCTL, "start", cfg.unit], 60)
        if rc != 0:
            # serving stale-free content without replication beats not serving: say it, keep the group up
            self.log(
                syslog.LOG_ERR,
                f"content-sync: cannot start {cfg.unit}, changes are NOT replicated: {_last_line(out)}",
            )
        record = {
            "t": round(self.clock() / 1e9, 3),
            "node": cfg.node,
            "peer": cfg.peer,
            "action": "pull-failed" if failures else decision.action,
            "peer_reachable": peer is not None,
            "peer_epoch": peer.epoch if peer else None,
            "peer_serving": peer.serving if peer else None,
            "epoch_before": own,
            "epoch": epoch,
            "pulled": pulled,
            "seconds": round(time.monotonic() - started, 2),
            "message": decision.message,
            "lsyncd_started": rc == 0,
        }
        write_atomic(cfg.last_start_file, json.dumps(record) + "\n")
        self.log(syslog.LOG_INFO, f"content-sync: serving {', '.join(cfg.directories)} (epoch {epoch})")
        return 0

    def stop(self) -> int:
        cfg = self.cfg
        if not is_serving(cfg):
            # not the source of truth: never push from here
            self.run([SYSTEMCTL, "stop", cfg.unit], 60)
            return 0
        rc, out = self.run([SYSTEMCTL, "stop", cfg.unit], 60)
        if rc != 0:
            self.log(syslog.LOG_ERR, f"content-sync: cannot stop {cfg.unit}: {_last_line(out)}")
            return 1
        # Last push, so the taker has every edit even when it cannot pull (it pulls anyway when it can).
        for directory in cfg.directories:
            push_rc, push_out = self.run(push_argv(cfg, directory), cfg.flush_timeout)
            if push_rc != 0:
                self.log(
                    syslog.LOG_WARNING,
                    f"content-sync: last push of {directory} to {cfg.peer} failed ({_last_line(push_out)});"
                    f" {cfg.peer} pulls it when it takes over",
                )
        with contextlib.suppress(FileNotFoundError):
            os.unlink(cfg.serving_flag)
        self.log(syslog.LOG_INFO, f"content-sync: no longer serving {', '.join(cfg.directories)}")
        return 0

    def status(self) -> int:
        running = is_serving(self.cfg) and self.unit_active()
        print("running" if running else "stopped")
        return 0 if running else 3


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _run(argv: list[str], timeout: float) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return 124, f"{os.path.basename(argv[0])} timed out after {timeout} s"
    except OSError as exc:
        return 127, str(exc)
    return done.returncode, (done.stdout or "") + (done.stderr or "")


# -- modes -------------------------------------------------------------------------------------------


def mode_resource(cfg: Config, action: str) -> int:
    node = Node(cfg)
    return {"start": node.start, "stop": node.stop, "status": node.status}[action]()


def mode_remote(cfg: Config) -> int:
    command = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    client = os.environ.get("SSH_CONNECTION", "?").split(" ", 1)[0]
    try:
        argv = check_remote(command, cfg, is_serving(cfg))
    except Refused as exc:
        syslog.syslog(syslog.LOG_WARNING, f"content-sync: refused {client}: {exc}")
        # stderr only: rsync reads stdout as its protocol
        print(f"{TAG} on {cfg.node}: refused: {exc}", file=sys.stderr)
        return 1
    syslog.syslog(syslog.LOG_DEBUG, f"content-sync: from {client}: {command}")
    if argv == [TAG, "epoch"]:
        print(json.dumps({"node": cfg.node, "epoch": read_epoch(cfg), "serving": is_serving(cfg)}))
        return 0
    os.execv(argv[0], argv)
    return 127  # not reached


def mode_reach(args: argparse.Namespace) -> int:
    """Preflight: can this node reach the peer on the sync port, and does the peer reach it from its address?"""
    result: dict = {"listening": None, "connected": False, "error": "", "accepted_from": []}
    server = None
    if args.listen:
        host, port = args.listen.rsplit(":", 1)
        try:
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((host, int(port)))
            server.listen(8)
            server.setblocking(False)
            result["listening"] = True
        except OSError as exc:
            result.update(listening=False, error=f"cannot listen on {args.listen}: {exc.strerror or exc}")
            print(json.dumps(result))
            return 0
    peer_host, peer_port = args.peer.rsplit(":", 1)
    deadline = time.monotonic() + args.window
    while time.monotonic() < deadline:
        if not result["connected"]:
            try:
                with socket.create_connection((peer_host, int(peer_port)), timeout=min(2.0, args.window)):
                    result["connected"] = True
                    result["error"] = ""
            except OSError as exc:
                result["error"] = (
                    f"{exc.strerror or exc}" if not isinstance(exc, TimeoutError) else "timed out"
                )
        if server is not None:
            ready, _w, _x = select.select([server], [], [], 0.2)
            if ready:
                try:
                    conn, address = server.accept()
                    conn.close()
                    if address[0] not in result["accepted_from"]:
                        result["accepted_from"].append(address[0])
                except OSError:
                    pass
        else:
            time.sleep(0.2)
        heard = server is None or args.expect_from in result["accepted_from"]
        if result["connected"] and heard:
            break
    if server is not None:
        server.close()
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    modes = parser.add_subparsers(dest="mode", required=True)
    resource = modes.add_parser("resource", help="the cluster resource: start, stop or status")
    resource.add_argument("action", choices=["start", "stop", "status"])
    modes.add_parser("remote", help="forced command of the sync's ssh key")
    reach = modes.add_parser("reach", help="preflight reachability check on the sync port")
    reach.add_argument("--peer", required=True, help="ADDRESS:PORT of the peer")
    reach.add_argument(
        "--listen", default="", help="ADDRESS:PORT to listen on meanwhile (empty: already served)"
    )
    reach.add_argument("--expect-from", default="", help="address the peer's connection must come from")
    reach.add_argument("--window", type=float, default=15.0)
    args = parser.parse_args(argv)
    if args.mode == "reach":
        return mode_reach(args)
    syslog.openlog(TAG, syslog.LOG_PID, syslog.LOG_DAEMON)
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        syslog.syslog(syslog.LOG_ERR, str(exc))
        print(f"{TAG}: {exc}", file=sys.stderr)
        return 2 if args.mode != "resource" or args.action != "status" else 3
    if args.mode == "remote":
        return mode_remote(cfg)
    return mode_resource(cfg, args.action)


if __name__ == "__main__":
    sys.exit(main())
