"""Agent-only settings: `<config-dir>/hbagent.conf`, a file Heartbeat 3.0.6 never reads (ha.cf stays
exactly what a real node accepts, so the two can share a configuration).

Syntax, like ha.cf: one directive per line, `#` starts a comment, blank lines are ignored.

    # opt-in, per haresources group key, on BOTH nodes (both must run hbagent)
    make_before_break IPaddr::10.0.0.50/24/eth0

`make_before_break <group-key>…` moves these groups without an outage on planned moves (standby,
takeover, auto-failback, graceful stop): the taker starts the group's services and adds its addresses
while the giver still serves, then the giver lets go (see rscmgr). For stateless services only (a web
server answering from local files): the services run on both nodes for a moment and the address is on
both for one message round. NEVER for exclusive resources — filesystems, DRBD, volume groups,
databases — the parser refuses the storage and database agents it knows, the rest is up to you.
The services must start without the address (Apache's default `Listen 80` does).

    # authkeys with a crc key: accepted by Heartbeat 3.0.6 and by hbagent, but crc authenticates nothing
    # (anyone on the network can forge any packet). check-config warns and the daemon logs it at start,
    # unless it is allowed here explicitly:
    allow_crc yes

    # fencing for users with their own tooling (instead of ha.cf stonith/stonith_host on this node)
    fence_command /usr/local/sbin/fence-peer --hard

`fence_command <program> [<arg>…]` runs `<program> <arg>… <node>` before this node takes resources from
a silent peer; exit status 0 means the peer is fenced (off or reset). Anything else blocks the takeover,
retried every 5 s (fencing.py).

    # what a resource STOP failure does (default: block, i.e. keep running, log, nothing moves)
    stop_failure reboot                     # /sbin/reboot -n -f, as 3.0.6 ("Reboot required!")
    stop_failure reboot /usr/local/sbin/x   # another command

With `reboot`, hbagent stops heartbeating at once and runs the command: the peer declares this node
dead, fences it if configured, and takes over (3.0.6 kills heartbeat and reboots the same way).

A missing file means no agent-only settings. Errors name the file and line (`path:line: reason`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from .config import ConfigError, ConfigErrors, _Collector, _lines, _parse_bool, read_config_file

AGENT_CONF = "hbagent.conf"

# Resources that must never run on two nodes at once (Heartbeat resource.d scripts and OCF agents).
EXCLUSIVE_RESOURCES = frozenset({
    "Filesystem", "drbddisk", "drbd", "LVM", "LVM-activate", "Raid1", "ServeRAID", "LinuxSCSI", "ICP",
    "iscsi", "iSCSITarget", "iSCSILogicalUnit", "SCSI2Reservation", "sfex", "ZFS", "db2", "mysql", "pgsql",
    "oracle", "LVSSyncDaemonSwap",
})  # fmt: skip


DEFAULT_REBOOT = ("/sbin/reboot", "-n", "-f")  # 3.0.6: @REBOOT@ @REBOOT_OPTIONS@ on Debian
DIRECTIVES = ("make_before_break", "allow_crc", "fence_command", "stop_failure")


@dataclass
class AgentConf:
    path: str
    make_before_break: list[str] = field(default_factory=list)  # group keys, file order, no duplicates
    allow_crc: bool = False
    fence_command: tuple[list[str], str] | None = None  # (argv, "path:line")
    reboot_on_stop_failure: list[str] | None = None  # the reboot argv; None: block


def parse_agent_conf(text: str, path: str, groups: Iterable) -> AgentConf:
    """Parse hbagent.conf against the haresources groups it refers to; ConfigErrors lists every problem."""
    by_key = {g.key: g for g in groups}
    conf = AgentConf(path)
    collector = _Collector(path)
    errors: list[ConfigError] = collector.errors
    for lineno, raw in _lines(text, collector):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        directive, args = words[0], words[1:]
        if directive not in DIRECTIVES:
            errors.append(
                ConfigError(path, lineno, f"unknown directive [{directive}] (known: {', '.join(DIRECTIVES)})")
            )
            continue
        if directive == "allow_crc":
            value = _parse_bool(args[0]) if len(args) == 1 else None
            if value is None:
                errors.append(ConfigError(path, lineno, "allow_crc takes one value: yes or no"))
            else:
                conf.allow_crc = value
            continue
        if directive != "make_before_break":
            problem = _set_action(conf, directive, args, f"{path}:{lineno}")
            if problem:
                errors.append(ConfigError(path, lineno, problem))
            continue
        if not args:
            errors.append(
                ConfigError(path, lineno, "make_before_break needs at least one haresources group key")
            )
        for key in args:
            problem = _mbb_problem(key, by_key)
            if problem:
                errors.append(ConfigError(path, lineno, problem))
            elif key not in conf.make_before_break:
                conf.make_before_break.append(key)
    if errors:
        raise ConfigErrors(errors)
    return conf


def _set_action(conf: AgentConf, directive: str, args: list[str], where: str) -> str | None:
    if directive == "fence_command":
        if not args or not args[0].startswith("/"):
            return "fence_command needs an absolute program path: fence_command /path/to/program [args]"
        conf.fence_command = (args, where)
        return None
    if not args or args[0] not in ("reboot", "block"):
        return "stop_failure: expected 'stop_failure block' or 'stop_failure reboot [/path/to/command args]'"
    if args[0] == "block":
        if len(args) > 1:
            return "stop_failure block takes no command"
        conf.reboot_on_stop_failure = None
        return None
    command = args[1:] or list(DEFAULT_REBOOT)
    if not command[0].startswith("/"):
        return f"stop_failure reboot: the command must be an absolute path, not [{command[0]}]"
    conf.reboot_on_stop_failure = command
    return None


def _mbb_problem(key: str, by_key: dict) -> str | None:
    group = by_key.get(key)
    if group is None:
        known = " ".join(by_key) or "none"
        return f"make_before_break: no haresources group has the key [{key}] (group keys: {known})"
    exclusive = [r.name for r in group.resources if r.name in EXCLUSIVE_RESOURCES]
    if exclusive:
        return (f"make_before_break [{key}]: the group holds {', '.join(exclusive)}, which must never run on "
                "two nodes at once")  # fmt: skip
    return None


def load_agent_conf(directory: str, groups: Iterable) -> AgentConf:
    """`<directory>/hbagent.conf`, or empty settings when the file does not exist."""
    path = os.path.join(directory, AGENT_CONF)
    if not os.path.lexists(path):
        return AgentConf(path)
    text, _mode = read_config_file(path)  # ConfigErrors: a FIFO, a device, too large, not UTF-8
    return parse_agent_conf(text, path, groups)
