"""The systemd unit of hbagent, kept here so that the zipapp carries it (`hbagent print-unit`).

hbagent/data/hbagent.service is the same text for the collection to install; a unit test checks that
the two never drift apart.
"""

from __future__ import annotations

UNIT_NAME = "hbagent.service"
DEFAULT_PYZ = "/usr/local/lib/hakit/hbagent.pyz"
DEFAULT_PYTHON = "/usr/bin/python3"
WATCHDOG_SEC = 30  # the event loop pings every 15 s at the latest; it normally wakes every 100 ms
STOP_TIMEOUT_SEC = 600  # resource stops may take a while (retries); the peer takes over meanwhile

_TEMPLATE = """\
# hbagent: Linux-HA Heartbeat 3.0.6 compatible cluster node (hakit.heartbeat).
# Reads /etc/ha.d/ha.cf, haresources, authkeys (as Heartbeat does) and the agent-only
# /etc/ha.d/hbagent.conf; state in /var/lib/hbagent. Written by `hbagent print-unit`.
[Unit]
Description=hbagent cluster node (Heartbeat 3.0.6 compatible)
After=network-online.target
Wants=network-online.target
# one cluster daemon per node: starting one stops the other
Conflicts=heartbeat.service

[Service]
Type=notify
NotifyAccess=main
ExecStart={python} {pyz} run
# synchronous: a refused or invalid configuration makes `systemctl reload` fail (and changes nothing)
ExecReload={python} {pyz} reload
Restart=on-failure
RestartSec=2s
WatchdogSec={watchdog}s
StateDirectory=hbagent
StateDirectoryMode=0700
# SIGTERM to hbagent only: it stops the resources itself (handing them to the peer) and exits;
# whatever a resource script left behind in this cgroup is SIGKILLed afterwards
KillMode=mixed
TimeoutStartSec=60s
TimeoutStopSec={stop_timeout}s
# no sandboxing: resource scripts manage addresses, services and mounts of the whole node

[Install]
WantedBy=multi-user.target
"""


def unit_text(pyz: str = DEFAULT_PYZ, python: str = DEFAULT_PYTHON) -> str:
    for name, value in (("--pyz", pyz), ("--python", python)):
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError(f"{name} must be an absolute path without spaces, not {value!r}")
    return _TEMPLATE.format(python=python, pyz=pyz, watchdog=WATCHDOG_SEC, stop_timeout=STOP_TIMEOUT_SEC)
