"""Minimal sd_notify(3) client: READY=1, STOPPING=1, WATCHDOG=1, STATUS=… to $NOTIFY_SOCKET.

A no-op (returns False) when not started by systemd with Type=notify. `@name` in NOTIFY_SOCKET is
an abstract socket. With WatchdogSec= set, call watchdog() at least every watchdog_interval()/2 s.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def _address(env: Mapping[str, str]) -> str | None:
    path = env.get("NOTIFY_SOCKET", "")
    if not path or not (path.startswith("/") or path.startswith("@")):
        return None  # unset, or a kind of address (vsock:…) we do not speak
    return "\0" + path[1:] if path.startswith("@") else path


def notify(*assignments: str, env: Mapping[str, str] | None = None) -> bool:
    """Send `NAME=value` lines in one datagram; True when systemd was told."""
    address = _address(os.environ if env is None else env)
    if address is None or not assignments:
        return False
    for item in assignments:
        if "=" not in item or "\n" in item:
            raise ValueError(f"sd_notify assignment must be NAME=value on one line: {item!r}")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto("\n".join(assignments).encode(), address)
    except OSError:
        return False  # systemd gone or socket not writable: nothing useful to do about it
    return True


def ready(status: str | None = None, env: Mapping[str, str] | None = None) -> bool:
    return notify("READY=1", *([f"STATUS={status}"] if status else []), env=env)


def stopping(status: str | None = None, env: Mapping[str, str] | None = None) -> bool:
    return notify("STOPPING=1", *([f"STATUS={status}"] if status else []), env=env)


def watchdog(env: Mapping[str, str] | None = None) -> bool:
    return notify("WATCHDOG=1", env=env)


def status(text: str, env: Mapping[str, str] | None = None) -> bool:
    return notify(f"STATUS={text.replace(chr(10), ' ')}", env=env)


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout in seconds (WATCHDOG_USEC), None when the watchdog is not for us."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None  # meant for another process (e.g. we were forked)
    return int(usec) / 1_000_000
