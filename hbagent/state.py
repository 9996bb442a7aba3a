"""The node's persistent identity: its generation (hb_generation) and uuid (hb_uuid).

Heartbeat 3.0.6 keeps both in /var/lib/heartbeat (spec §6.1, §10). The agent reads them from, and writes
them to, that directory as well as its own state directory, in Heartbeat's formats, so that a node can
switch engines either way: a peer never sees the node's uuid change, nor its generation go back (which it
would drop as a replay attack).

It also keeps what the node saw of its peers (hbagent_peers: each peer's generation and the highest seq
accepted from it), so that the peers' older packets, replayed to this node after it restarted, are still
dropped (3.0.6 forgets them and takes them).

Nothing here follows a symbolic link or trusts what someone else owns: the directories must be real
directories owned by this user or root and not writable by group or others; the files are opened with
O_NOFOLLOW and must be regular files of the same owners (UnsafeStateError otherwise).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import time

HEARTBEAT_STATE_DIR = "/var/lib/heartbeat"
GENERATION_FILE = "hb_generation"
UUID_FILE = "hb_uuid"
PEERS_FILE = "hbagent_peers"
UUID_BYTES = 16
MAX_STATE_FILE = 64 * 1024
MAX_PEERS = 100  # MAXNODE


class UnsafeStateError(OSError):
    """A state or socket path that is a symbolic link, not what it should be, or someone else's."""

    def __init__(self, path: str, reason: str):
        super().__init__(errno.EPERM, reason, path)


def _trusted_owner(uid: int) -> bool:
    return uid in (os.geteuid(), 0)


def secure_dir(path: str, mode: int = 0o700, create: bool = True) -> None:
    """Create `path` (with `mode`) if missing, then refuse it unless it is a real directory owned by
    this user or root that neither group nor others may write to."""
    if create:
        os.makedirs(path, mode=mode, exist_ok=True)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeStateError(
            path, "is a symbolic link: refused (state directories must be real directories)"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeStateError(path, "is not a directory")
    if not _trusted_owner(info.st_uid):
        raise UnsafeStateError(path, f"is owned by uid {info.st_uid}, neither this user nor root: refused")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeStateError(
            path, f"is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o}): refused"
        )


def read_state_file(path: str, limit: int = MAX_STATE_FILE) -> bytes | None:
    """The first `limit` bytes of a state file, None when it does not exist. Never follows a symlink,
    never blocks on a FIFO, refuses anything but a regular file of this user or root."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeStateError(path, "is a symbolic link: refused") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeStateError(path, "is not a regular file: refused")
        if not _trusted_owner(info.st_uid):
            raise UnsafeStateError(
                path, f"is owned by uid {info.st_uid}, neither this user nor root: refused"
            )
        return os.read(fd, limit)
    finally:
        os.close(fd)


def _dirs(state_dir: str, heartbeat_dir: str | None) -> list[str]:
    dirs = [state_dir]
    if heartbeat_dir and os.path.abspath(heartbeat_dir) != os.path.abspath(state_dir):
        dirs.append(heartbeat_dir)
    return dirs


def _read_generation(path: str) -> int:
    data = read_state_file(path, 64)
    text = (data or b"").strip()
    return int(text) if re.fullmatch(rb"[0-9]{1,18}", text) else 0  # garbage counts as none


def next_generation(state_dir: str, heartbeat_dir: str | None = None, now: float | None = None) -> int:
    """Strictly larger than any generation either engine used before; written back (fsync) to both."""
    dirs = _dirs(state_dir, heartbeat_dir)
    saved = max(_read_generation(os.path.join(d, GENERATION_FILE)) for d in dirs)
    generation = max(saved + 1, int(time.time() if now is None else now))
    for directory in dirs:
        # 3.0.6's format: 15 characters, right-aligned, and a newline
        write_atomic(os.path.join(directory, GENERATION_FILE), b"%15d\n" % generation, 0o644)
    return generation


def load_uuid(state_dir: str, heartbeat_dir: str | None = None) -> bytes:
    """Heartbeat's uuid when it has one (the peer knows the node by it), else ours, else a new one."""
    dirs = _dirs(state_dir, heartbeat_dir)
    found = {}
    for directory in dirs:
        data = read_state_file(os.path.join(directory, UUID_FILE), UUID_BYTES + 1)
        if data is not None and len(data) == UUID_BYTES:
            found[directory] = data
    uuid = found.get(dirs[-1]) or found.get(dirs[0]) or os.urandom(UUID_BYTES)
    for directory in dirs:
        if found.get(directory) != uuid:
            write_atomic(os.path.join(directory, UUID_FILE), uuid, 0o644)
    return uuid


def load_peers(state_dir: str) -> dict[str, tuple[int, int]]:
    """{peer: (generation, highest seq accepted)} as last saved; lines that make no sense are ignored."""
    data = read_state_file(os.path.join(state_dir, PEERS_FILE))
    peers: dict[str, tuple[int, int]] = {}
    for line in (data or b"").decode("ascii", "replace").splitlines():
        m = re.fullmatch(r"([!-~]{1,99}) ([0-9]{1,18}) ([0-9]{1,19})", line.strip())
        if m and len(peers) < MAX_PEERS:
            peers[m.group(1).lower()] = (int(m.group(2)), int(m.group(3)))
    return peers


def save_peers(state_dir: str, peers: dict[str, tuple[int, int]]) -> None:
    text = "".join(f"{name} {generation} {seq}\n" for name, (generation, seq) in sorted(peers.items()))
    write_atomic(os.path.join(state_dir, PEERS_FILE), text.encode("ascii", "replace"), 0o600)


def write_atomic(path: str, data: bytes, mode: int = 0o600) -> None:
    """Write, fsync, rename over, fsync the directory: a crash leaves the old or the new file."""
    tmp = f"{path}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
