"""The node's persistent identity: its generation (hb_generation) and uuid (hb_uuid).

Heartbeat 3.0.6 keeps both in /var/lib/heartbeat (spec §6.1, §10). The agent reads them from, and writes
them to, that directory as well as its own state directory, in Heartbeat's formats, so that a node can
switch engines either way: a peer never sees the node's uuid change, nor its generation go back (which it
would drop as a replay attack).
"""

from __future__ import annotations

import contextlib
import os
import time

HEARTBEAT_STATE_DIR = "/var/lib/heartbeat"
GENERATION_FILE = "hb_generation"
UUID_FILE = "hb_uuid"
UUID_BYTES = 16


def _dirs(state_dir: str, heartbeat_dir: str | None) -> list[str]:
    dirs = [state_dir]
    if heartbeat_dir and os.path.abspath(heartbeat_dir) != os.path.abspath(state_dir):
        dirs.append(heartbeat_dir)
    return dirs


def _read_generation(path: str) -> int:
    with contextlib.suppress(FileNotFoundError, ValueError), open(path) as handle:
        return int(handle.read(64).strip() or 0)
    return 0


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
        with contextlib.suppress(FileNotFoundError), open(os.path.join(directory, UUID_FILE), "rb") as handle:
            data = handle.read(UUID_BYTES + 1)
            if len(data) == UUID_BYTES:
                found[directory] = data
    uuid = found.get(dirs[-1]) or found.get(dirs[0]) or os.urandom(UUID_BYTES)
    for directory in dirs:
        if found.get(directory) != uuid:
            write_atomic(os.path.join(directory, UUID_FILE), uuid, 0o644)
    return uuid


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
