"""What hbagent does with each ha.cf directive: nothing is ignored silently.

`unimplemented(ha_cf)` names every line whose directive (or value) hbagent does not implement, with what
happens instead; `hbagent check-config` prints them as warnings and the daemon logs them at start. A
migrated ha.cf that relied on one of them (ipfail through `respawn`, a serial link, a watchdog device)
must not lose that safety net without a word.
"""

from __future__ import annotations

from . import config as hbconfig

# directive -> what hbagent does instead (every value)
NOT_IMPLEMENTED = {
    "respawn": "hbagent starts no respawn clients (ipfail's rule is built in when ping nodes are configured; "
    "other clients are not run)",
    "apiauth": "hbagent has no Heartbeat API socket, so no API client (ipfail, crmd, cl_status of 3.0.6) "
    "can connect; use `hbagent cl-status`",
    "failfast": "hbagent starts no failfast clients",
    "watchdog": "no watchdog device is driven; systemd's WatchdogSec= watches hbagent instead",
    "serial": "serial media are not driven: this link does not exist for hbagent",
    "baud": "serial media are not driven",
    "mcast6": "IPv6 media are not driven: this link does not exist for hbagent",
    "ucast6": "IPv6 media are not driven: this link does not exist for hbagent",
    "ping6": "IPv6 ping nodes are not driven: this ping node does not exist for hbagent",
    "env": "not passed to resource scripts (they run with the daemon's environment)",
    "rtprio": "the event loop runs SCHED_RR at the lowest priority (realtime on), whatever rtprio says",
    "use_apphbd": "no apphbd: systemd's WatchdogSec= watches hbagent",
    "conn_logd_time": "no logd: hbagent logs to the journal (stderr) and the logfile",
    "coredumps": "no effect (a Python daemon)",
    "coreroot": "no effect (a Python daemon)",
    "memreserve": "no effect (a Python daemon)",
    "normalpoll": "no effect",
    "syslogmsgfmt": "no syslog output of its own: hbagent logs to the journal (stderr) and the logfile",
    "quorum_server": "no quorum server (crm only)",
    "crm_daemon_dir": "crm is not run by hbagent",
    "crmd_spawns_pengine": "crm is not run by hbagent",
    "record_config_changes": "crm is not run by hbagent",
    "record_pengine_inputs": "crm is not run by hbagent",
    "enable_config_writes": "crm is not run by hbagent",
}


def _value_problem(directive: str, value: str) -> str | None:
    """Directives hbagent implements for some values only."""
    low = value.lower()
    if directive == "logfacility" and low != "none":
        return "no syslog output of its own: hbagent logs to the journal (stderr) and the logfile"
    if directive == "use_logd" and low in ("true", "on", "yes", "y", "1"):
        return "no logd: hbagent logs to the journal (stderr) and the logfile"
    if directive == "hbgenmethod" and low == "time":
        return "the generation always comes from the hb_generation file"
    if directive == "uuidfrom" and low == "nodename":
        return "the node uuid always comes from the hb_uuid file"
    if directive in ("crm", "pacemaker") and low not in ("off", "false", "no", "n", "0"):
        return "hbagent runs membership only with crm (haresources resources are not managed)"
    if directive == "debug" and value != "0":
        return "use `hbagent run --debug` for debug lines"
    return None


def unimplemented(ha_cf) -> list[hbconfig.ConfigError]:
    """Every ha.cf line hbagent does not honour, as `path:line: hbagent ignores …` entries."""
    found = []
    reported: set[tuple[str, int]] = set()
    for directive, value, line in ha_cf.directives:
        reason = NOT_IMPLEMENTED.get(directive) or _value_problem(directive, value)
        if reason is None or (directive, line) in reported:
            continue
        reported.add((directive, line))
        found.append(
            hbconfig.ConfigError(ha_cf.path, line, f"hbagent ignores '{directive} {value}': {reason}")
        )
    return found


def startup_warnings(cluster, agent_conf, allow_crc: bool = False) -> list[str]:
    """What the daemon logs at start and check-config prints: ignored directives, unsafe combinations
    (crc keys unless allowed here or by `allow_crc yes` in hbagent.conf)."""
    lines = [str(e) for e in unimplemented(cluster.ha_cf)]
    lines += hbconfig.safety_warnings(cluster.ha_cf, cluster.authkeys, allow_crc or agent_conf.allow_crc)
    if agent_conf.fence_command and cluster.ha_cf.stonith:
        lines.append(f"{agent_conf.fence_command[1]}: fence_command is used on this node instead of the ha.cf "
                     "stonith/stonith_host lines")  # fmt: skip
    return lines
