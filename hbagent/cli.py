"""Command line: `hbagent run | cl-status | status | check-config | standby | takeover | reload |
print-unit`."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import stat
import sys
import time

from . import HEARTBEAT_VERSION, __version__, agentconf, state, support, systemd_unit
from . import config as hbconfig
from .daemon import DEFAULT_CONFIG_DIR, DEFAULT_STATE_DIR, SOCKET_NAME, Daemon, StartupError

# cl_status exit codes (3.0.6)
EXIT_OK, EXIT_FAIL, EXIT_PARAM, EXIT_TIMEOUT, EXIT_UNKNOWN = 0, 1, 11, 12, 13
CLIENT_EXIT = {"online": 0, "offline": 1, "join": 2, "leave": 3}
CL_STATUS_TIMEOUT = 5.0  # cl_status' global alarm


def _state_dir(value: str | None) -> str:
    return value or os.environ.get("HBAGENT_STATE_DIR") or DEFAULT_STATE_DIR


def _heartbeat_state_dir(args) -> str | None:
    """Heartbeat's /var/lib/heartbeat for a node's default state; a test's own --state-dir stands alone."""
    if args.heartbeat_state_dir is not None:
        return args.heartbeat_state_dir or None
    if args.state_dir is None and not os.environ.get("HBAGENT_STATE_DIR"):
        return state.HEARTBEAT_STATE_DIR
    return None


def control_exchange(state_dir: str, request: bytes, timeout: float = CL_STATUS_TIMEOUT) -> bytes:
    """Send one request line as it is, return the answer line (raw: tests and benches send bad ones too)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(os.path.join(state_dir, SOCKET_NAME))
        sock.sendall(request + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def control_request(state_dir: str, payload: dict, timeout: float = CL_STATUS_TIMEOUT) -> dict:
    """One request to the running daemon; OSError when it is not running, TimeoutError when slow."""
    return json.loads(control_exchange(state_dir, json.dumps(payload).encode(), timeout) or b"{}")


# --------------------------------------------------------------------------------------------
# cl-status


class _Usage(Exception):
    pass


def _split(args: list[str]) -> tuple[set[str], list[str]]:
    flags = {a for a in args if a.startswith("-") and a != "-"}
    return flags, [a for a in args if a not in flags]


def _node_entry(status: dict, node: str) -> dict | None:
    return next((e for e in status["membership"]["nodes"] if e["name"] == node.lower()), None)


def _listnodes_verbose(status: dict) -> list[str]:
    lines = []
    for entry in reversed(status["membership"]["nodes"]):  # 3.0.6 lists them in reverse ha.cf order
        lines += ["", f"{entry['name']}\t{entry['status']}\t(nodetype: {entry['type']})"]
        lines += [f"\t{link}\t{state}" for link, state in entry["links"].items()]
    return lines


def cl_status(argv: list[str], state_dir: str, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    if not argv:
        print("Usage: hbagent cl-status <sub-command> [<options>] [<parameters>]", file=err)
        return EXIT_PARAM
    sub, (flags, params) = argv[0], _split(argv[1:])
    known = {"hbstatus", "listnodes", "nodestatus", "nodetype", "nodeweight", "nodesite", "listhblinks",
             "hblinkstatus", "clientstatus", "rscstatus", "hbparameter"}  # fmt: skip
    if sub not in known:
        print(f"{sub} is an invalid sub-command.", file=err)
        return EXIT_PARAM
    try:
        status = control_request(state_dir, {"cmd": "status"})
    except TimeoutError:
        print("cl_status: timed out talking to hbagent", file=err)
        return EXIT_TIMEOUT
    except (OSError, ValueError):
        if sub == "hbstatus":
            print("Heartbeat is stopped on this machine.", file=out)
        else:
            print("Cannot signon with heartbeat", file=err)
        return EXIT_FAIL
    try:
        return _cl_status_sub(sub, flags, params, status, state_dir, out, err)
    except _Usage as exc:
        print(f"Usage: cl_status {sub} {exc}", file=err)
        return EXIT_PARAM


def _cl_status_sub(sub, flags, params, status, state_dir, out, err) -> int:
    human = "-m" in flags

    def say(text: str) -> None:
        print(text, file=out)

    def node_param(index: int = 0, usage: str = "<node>") -> dict:
        if len(params) <= index:
            raise _Usage(usage)
        entry = _node_entry(status, params[index])
        if entry is None:
            print("Error. May be due to incorrect node name", file=err)
            raise _BadNode
        return entry

    try:
        if sub == "hbstatus":
            if "-v" not in flags:
                say("Heartbeat is running on this machine.")
                return EXIT_OK
            version = f"{HEARTBEAT_VERSION} (hbagent {status['version']})"
            if human:
                say(f"Heartbeat version {version}")
                say('Resources controlled by "haresources"')
            else:
                say(f"version:\t{version}")
                say('managed by:\t"haresources"')
            for line in _listnodes_verbose(status):
                say(line)
            return EXIT_OK
        if sub == "listnodes":
            if "-v" in flags:
                for line in _listnodes_verbose(status):
                    say(line)
                return EXIT_OK
            for entry in reversed(status["membership"]["nodes"]):
                wanted = "ping" if "-p" in flags else "normal" if "-n" in flags else entry["type"]
                if entry["type"] == wanted:
                    say(entry["name"])
            return EXIT_OK
        if sub == "nodestatus":
            entry = node_param()
            state = entry["status"]
            say(f"The cluster node {entry['name']} is {state}" if human else state)
            return EXIT_OK if state in ("active", "up", "ping") else EXIT_FAIL
        if sub == "nodetype":
            entry = node_param()
            say(f"The type of cluster node {entry['name']} is {entry['type']}" if human else entry["type"])
            return EXIT_OK
        if sub == "nodeweight":
            node_param()
            say("100")
            return EXIT_OK
        if sub == "nodesite":
            node_param()
            say("")
            return EXIT_OK
        if sub == "listhblinks":
            entry = node_param()
            for link, state in entry["links"].items():
                say(f"\t{link}\t{state}" if "-v" in flags else f"\t{link}")
            return EXIT_OK
        if sub == "hblinkstatus":
            entry = node_param(0, "<node> <link>")
            if len(params) < 2:
                raise _Usage("<node> <link>")
            state = entry["links"].get(params[1])
            if state is None:
                print("Error. May be due to incorrect link name or node name", file=err)
                return EXIT_UNKNOWN
            say(f"Link {entry['name']}:{params[1]} is {state}" if human else state)
            return EXIT_OK if state == "up" else EXIT_FAIL
        if sub == "clientstatus":
            entry = node_param(0, "<node> <client> [timeout_ms]")
            if len(params) < 2:
                raise _Usage("<node> <client> [timeout_ms]")
            given = params[2] if len(params) > 2 else ""
            timeout_ms = int(given) if given.isascii() and given.isdigit() and 0 < len(given) <= 5 else 500
            timeout_ms = min(max(timeout_ms, 1), 60_000)
            try:
                answer = control_request(state_dir, {"cmd": "clientstatus", "node": entry["name"],
                                                     "client": params[1], "timeout_ms": timeout_ms})  # fmt: skip
            except TimeoutError:
                return EXIT_TIMEOUT
            if not answer.get("ok"):
                print(
                    f"Error. May be due to incorrect client name or node name ({answer.get('error')})",
                    file=err,
                )
                return EXIT_UNKNOWN
            say(answer["status"])
            return CLIENT_EXIT.get(answer["status"], EXIT_UNKNOWN)
        if sub == "rscstatus":
            value = status["rscstatus"]
            if human:
                say(
                    "Resources are in transition."
                    if value == "transition"
                    else f"This node is holding {value} resources."
                )
            else:
                say(value)
            if "-v" in flags:  # hbagent extension: one line per group
                for group in status.get("groups", []):
                    holders = ",".join(group["held_by"]) or "none"
                    if human:
                        say(f"Group {group['key']} (preferred node {group['preferred_node']}) is held by "
                            f"{holders.replace(',', ' and ')}; here: {group['here']}.")  # fmt: skip
                    else:
                        say(f"{group['key']}\t{group['preferred_node']}\t{holders}\t{group['here']}")
            return EXIT_OK
        if sub == "hbparameter":
            if "-p" not in flags or not params:
                raise _Usage("-p <parameter>")
            value = status["parameters"].get(params[0])
            if value is None:
                return EXIT_FAIL
            say(value)
            return EXIT_OK
    except _BadNode:
        return EXIT_PARAM
    return EXIT_PARAM


class _BadNode(Exception):
    pass


# --------------------------------------------------------------------------------------------
# check-config


def _print_errors(errors, err) -> None:
    for error in errors:
        print(str(error), file=err)


def check_config(args, out=None, err=None) -> int:
    """Exit 0 clean, 1 with errors (`path:line: reason` on stdout), 2 for a usage error; never a
    traceback, whatever the files are (a FIFO, /dev/zero, Latin-1, numbers of 5,000 digits)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        return _check_config(args, out, err)
    except Exception as exc:  # a bug: still one clear line, never a traceback
        print(f"check-config: internal error ({type(exc).__name__}: {str(exc)[:200]}); please report it",
              file=err)  # fmt: skip
        return 2


def _check_config(args, out, err) -> int:
    problems: list = []
    warnings: list[str] = []
    allow_crc = bool(getattr(args, "allow_crc", False))

    def attempt(func, *fargs):
        try:
            return func(*fargs)
        except hbconfig.ConfigErrors as exc:
            problems.extend(exc.errors)
        except OSError as exc:
            problems.append(hbconfig.ConfigError(exc.filename or "?", None, f"cannot read: {exc.strerror}"))
        return None

    single = args.ha_cf or args.haresources or args.authkeys or args.hbagent_conf
    if single and args.directory:
        print("check-config: give a directory or single files, not both", file=err)
        return 2
    if args.ha_cf:
        text, _mode = attempt(hbconfig.read_config_file, args.ha_cf) or (None, None)
        if text is not None:
            cfg = attempt(hbconfig.parse_ha_cf, text, args.ha_cf)
            warnings += cfg.warnings if cfg else []
            warnings += [str(e) for e in support.unimplemented(cfg)] if cfg else []
    if args.haresources:
        nodes = None
        if args.nodes_from:
            text, _mode = attempt(hbconfig.read_config_file, args.nodes_from) or (None, None)
            cfg = attempt(hbconfig.parse_ha_cf, text, args.nodes_from) if text is not None else None
            nodes = cfg.nodes if cfg else None
        text, _mode = attempt(hbconfig.read_config_file, args.haresources) or (None, None)
        if text is not None:
            attempt(hbconfig.parse_haresources, text, args.haresources, nodes)
    if args.authkeys:
        text, mode = attempt(hbconfig.read_config_file, args.authkeys, False) or (None, None)
        if text is not None:
            keys = attempt(hbconfig.parse_authkeys, text, args.authkeys, stat.S_IMODE(mode))
            warning = hbconfig.crc_warning(keys, args.authkeys) if keys and not allow_crc else None
            warnings += [warning] if warning else []
    if args.hbagent_conf:
        groups = []
        if args.haresources_from:
            text, _mode = attempt(hbconfig.read_config_file, args.haresources_from) or (None, None)
            groups = (attempt(hbconfig.parse_haresources, text, args.haresources_from) or []) if text else []
        text, _mode = attempt(hbconfig.read_config_file, args.hbagent_conf) or (None, None)
        if text is not None:
            attempt(agentconf.parse_agent_conf, text, args.hbagent_conf, groups)
    if not single:
        directory = args.directory or DEFAULT_CONFIG_DIR
        cluster = attempt(hbconfig.load_config, directory)
        if cluster is not None:
            agent = attempt(agentconf.load_agent_conf, directory, cluster.resources)
            warnings += cluster.ha_cf.warnings
            warnings += support.startup_warnings(cluster, agent or agentconf.AgentConf(""), allow_crc)
            if args.node and args.node.lower() not in cluster.ha_cf.nodes:
                problems.append(hbconfig.ConfigError(cluster.ha_cf.path, None,
                                                     f"Current node [{args.node.lower()}] not in configuration"))  # fmt: skip
    for warning in warnings:
        print(f"warning: {warning}", file=err)
    _print_errors(problems, out)
    return 1 if problems else 0


# --------------------------------------------------------------------------------------------
# other commands


def _human_status(status: dict, out) -> None:
    m = status["membership"]
    print(
        f"node {m['node']}: {m['status']} (generation {m['generation']}, resources: {status['rscstatus']})",
        file=out,
    )
    for entry in m["nodes"]:
        links = ", ".join(f"{k} {v}" for k, v in entry["links"].items())
        print(f"  {entry['name']:<20} {entry['status']:<8} links: {links}", file=out)
    blocked = (status.get("split_brain") or {}).get("takeover_blocked")
    if blocked:
        print(f"  TAKEOVER BLOCKED: {blocked}", file=out)
    for group in status.get("groups", []):
        holders = " and ".join(group["held_by"]) or "nobody"
        mbb = ", make-before-break" if group.get("make_before_break") else ""
        print(f"  group {group['key']} (preferred {group['preferred_node']}{mbb}): held by {holders}, "
              f"here {group['here']}", file=out)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hbagent", description="Linux-HA Heartbeat 3.0.6 compatible node agent"
    )
    parser.add_argument(
        "--version", action="version", version=f"hbagent {__version__} (heartbeat {HEARTBEAT_VERSION})"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the cluster daemon in the foreground")
    run.add_argument(
        "--config-dir", default=DEFAULT_CONFIG_DIR, help="ha.cf, haresources, authkeys (default %(default)s)"
    )
    run.add_argument(
        "--state-dir", default=None, help=f"generation, uuid, control socket (default {DEFAULT_STATE_DIR})"
    )
    run.add_argument(
        "--heartbeat-state-dir", default=None, metavar="DIR",
        help=f"Heartbeat's state directory, whose hb_generation/hb_uuid are shared so that the node can switch "
             f"engines (default {state.HEARTBEAT_STATE_DIR} with the default --state-dir, else none; '' = none)",
    )  # fmt: skip
    run.add_argument("--node", help="this node's name (default: <config-dir>/nodeinfo, else uname -n)")
    run.add_argument(
        "--no-resources", action="store_true", help="membership only: never start or stop resources"
    )
    run.add_argument("--debug", action="store_true", help="debug lines on stderr too")

    cls = sub.add_parser("cl-status", help="cl_status compatible queries", add_help=False)
    cls.add_argument("--state-dir", default=None)
    cls.add_argument("args", nargs=argparse.REMAINDER)

    status = sub.add_parser("status", help="state of the running daemon")
    status.add_argument("--state-dir", default=None)
    status.add_argument("--json", action="store_true", help="machine-readable")

    check = sub.add_parser("check-config", help="check ha.cf, haresources, authkeys")
    check.add_argument("directory", nargs="?", help=f"configuration directory (default {DEFAULT_CONFIG_DIR})")
    check.add_argument("--ha-cf", metavar="FILE")
    check.add_argument("--haresources", metavar="FILE")
    check.add_argument(
        "--nodes-from", metavar="HA_CF", help="check haresources node names against this ha.cf"
    )
    check.add_argument("--authkeys", metavar="FILE")
    check.add_argument("--hbagent-conf", metavar="FILE", help="the agent-only hbagent.conf")
    check.add_argument(
        "--haresources-from", metavar="FILE", help="check hbagent.conf's group keys against this haresources"
    )
    check.add_argument("--node", help="also check that this node is listed in ha.cf")
    check.add_argument(
        "--allow-crc", action="store_true",
        help="no warning for crc keys in authkeys (crc authenticates nothing; same as `allow_crc yes` in hbagent.conf)",
    )  # fmt: skip

    for name, text in (("standby", "give resources to the peer (hb_standby [all|local|foreign|failback])"),
                       ("takeover", "take resources from the peer (hb_takeover [all|local|foreign|failback])")):  # fmt: skip
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("which", nargs="?", default="all", choices=WHICH)
        cmd.add_argument("--state-dir", default=None)
        cmd.add_argument("--wait", type=float, nargs="?", const=120.0, default=None, metavar="SECONDS",
                         help="wait until the move is complete (default %(const)gs); exit 1 if it is not")  # fmt: skip

    rel = sub.add_parser("reload", help="re-read the configuration now (what SIGHUP does); exit 1 if refused")
    rel.add_argument("--state-dir", default=None)

    unit = sub.add_parser("print-unit", help="print the systemd unit (hbagent.service)")
    unit.add_argument(
        "--pyz", default=systemd_unit.DEFAULT_PYZ, help="path of the zipapp (default %(default)s)"
    )
    unit.add_argument(
        "--python", default=systemd_unit.DEFAULT_PYTHON, help="interpreter (default %(default)s)"
    )
    return parser


WHICH = ("all", "local", "foreign", "failback")
TAKEOVER_GRACE_S = 15.0
# rsc_hold bits (rscmgr): what must be held (takeover) or no longer held (standby) once the move is done
_WHICH_BITS = {"all": 3, "local": 1, "foreign": 2, "failback": 2}
_RSC_BITS = {"none": 0, "local": 1, "foreign": 2, "all": 3}


def _move_done(command: str, which: str, rscstatus: str) -> bool:
    if rscstatus not in _RSC_BITS:
        return False  # transition
    bits, held = _WHICH_BITS[which], _RSC_BITS[rscstatus]
    if command == "takeover":
        bits = 1 if which == "failback" else bits  # failback: our own groups back
        return held & bits == bits
    return held & bits == 0


def _wait_for_move(state_dir: str, command: str, which: str, timeout: float) -> tuple[bool, str]:
    """Poll rscstatus until the move is done. A standby is in transition from the start, so a stable
    state that is not the goal means it was cancelled; a takeover starts when the peer's reply
    arrives, so it gets the peer's standby timer (10 s) and some slack before we call it refused."""
    start = time.monotonic()
    deadline = start + timeout
    status = "?"
    while time.monotonic() < deadline:
        try:
            status = control_request(state_dir, {"cmd": "status"})["rscstatus"]
        except (OSError, ValueError, KeyError) as exc:
            return False, f"lost the daemon while waiting: {exc}"
        if _move_done(command, which, status):
            return True, status
        grace = 0.0 if command == "standby" else TAKEOVER_GRACE_S
        if status != "transition" and time.monotonic() - start > grace:
            return False, f"the move did not happen (rscstatus: {status}); see the log of both nodes"
        time.sleep(0.2)
    return False, f"not done after {timeout:g}s (rscstatus: {status})"


def _move(args, state_dir: str) -> int:
    label = f"hbagent {args.command} {args.which}"
    answer = control_request(state_dir, {"cmd": args.command, "which": args.which}, timeout=35)
    text = answer.get("text") or answer.get("error") or ""
    if not answer.get("ok"):
        print(f"{label}: refused: {text}", file=sys.stderr)
        return 1
    print(f"{label}: {text}")
    if args.wait is None:
        return 0
    done, detail = _wait_for_move(state_dir, args.command, args.which, args.wait)
    if not done:
        print(f"{label}: {detail}", file=sys.stderr)
        return 1
    print(f"{label}: done, this node now holds {detail} resources")
    return 0


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # whatever the locale, printing a name never fails
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    if args.command == "run":
        try:
            daemon = Daemon(args.config_dir, _state_dir(args.state_dir), args.node,
                            manage_resources=not args.no_resources, debug=args.debug,
                            heartbeat_state_dir=_heartbeat_state_dir(args))  # fmt: skip
        except StartupError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        return daemon.run()
    if args.command == "cl-status":
        return cl_status(args.args, _state_dir(args.state_dir))
    if args.command == "check-config":
        if args.nodes_from and not args.haresources:
            print("check-config: --nodes-from goes with --haresources", file=sys.stderr)
            return 2
        if args.haresources_from and not args.hbagent_conf:
            print("check-config: --haresources-from goes with --hbagent-conf", file=sys.stderr)
            return 2
        return check_config(args)
    if args.command == "print-unit":
        try:
            sys.stdout.write(systemd_unit.unit_text(args.pyz, args.python))
        except ValueError as exc:
            print(f"print-unit: {exc}", file=sys.stderr)
            return 2
        return 0
    state_dir = _state_dir(args.state_dir)
    try:
        if args.command == "status":
            status = control_request(state_dir, {"cmd": "status"})
            if args.json:
                print(json.dumps(status, indent=2, sort_keys=True))
            else:
                _human_status(status, sys.stdout)
            return 0
        if args.command == "reload":
            answer = control_request(state_dir, {"cmd": "reload"}, timeout=35)
            print(answer.get("text") or answer.get("error") or "",
                  file=sys.stdout if answer.get("ok") else sys.stderr)  # fmt: skip
            return 0 if answer.get("ok") else 1
        return _move(args, state_dir)
    except (OSError, ValueError) as exc:
        print(f"hbagent is not running (control socket {os.path.join(state_dir, SOCKET_NAME)}: {exc})",
              file=sys.stderr)  # fmt: skip
        return 1
