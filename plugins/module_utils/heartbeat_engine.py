# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local cluster daemon as the modules see it, whichever engine runs it.

An engine answers four questions the same way (is the daemon running, what does it see of a node, what
does this node hold, how does a planned move get there) so that heartbeat_info and switchover return the
same shape for every engine. Debian's Heartbeat and hbagent both speak cl_status, so one class carries
that protocol and each of them only says where its commands are. Pacemaker (Corosync 3 + Pacemaker 2.1)
is the third engine: its cluster lives in the CIB, read with crm_mon/cibadmin --output-as=xml, and its
moves are crm_resource --move/--clear; the pure parsers of those answers sit in the "Pacemaker answers"
section below, so that tests feed them recorded output.

Nothing here calls fail_json: problems raise EngineError, whose message names what was seen.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

from ansible_collections.hakit.heartbeat.plugins.module_utils.heartbeat_config import (
    ConfigError,
    ConfigErrors,
    load_config,
)

ENGINE_ARGUMENT_SPEC = {
    "engine": {"type": "str", "default": "auto", "choices": ["auto", "heartbeat", "agent", "pacemaker"]},
    "agent_path": {"type": "path", "default": "/usr/local/lib/hakit/hbagent.pyz"},
}

NODE_STATUSES = ("active", "up", "init", "dead", "ping")
NODE_TYPES = ("normal", "ping", "unknown")
LINK_STATUSES = ("up", "dead")
# What a node holds: "transition" while resources move, else which groups (own/peer's) it holds.
RSC_STATES = ("none", "local", "foreign", "all", "transition")
HOLD_TARGETS = ("all", "local", "none")

# rscstatus now -> the (tool, which) steps that reach each target; tool is standby or takeover
# (hb_standby/hb_takeover semantics: which = all | local | foreign).
MOVE_PLAN = {
    "all": {
        "none": [("takeover", "all")],
        "local": [("takeover", "foreign")],
        "foreign": [("takeover", "local")],
    },
    "none": {
        "all": [("standby", "all")],
        "local": [("standby", "local")],
        "foreign": [("standby", "foreign")],
    },
    "local": {
        "all": [("standby", "foreign")],
        "none": [("takeover", "local")],
        "foreign": [("takeover", "local"), ("standby", "foreign")],
    },
}

# Debian 12/13 install the Heartbeat daemon in /usr/libexec/heartbeat; older builds in /usr/lib/heartbeat.
HEARTBEAT_DAEMONS = ("/usr/libexec/heartbeat/heartbeat", "/usr/lib/heartbeat/heartbeat")
# hb_standby/hb_takeover: Debian puts them in /usr/share/heartbeat, other builds in the others.
HEARTBEAT_TOOL_DIRS = ("/usr/share/heartbeat", "/usr/lib/heartbeat", "/usr/libexec/heartbeat")
AGENT_SOCKET = "/var/lib/hbagent/hbagent.sock"
AGENT_UNIT = "hbagent.service"

# cl_status exit codes (Heartbeat 3.0.6, and hbagent cl-status)
CL_OK, CL_FAIL, CL_PARAM, CL_TIMEOUT = 0, 1, 11, 12


class EngineError(Exception):
    """A problem with the local daemon or its answer; str() is the message for the user."""


class Engine:
    """One kind of local cluster daemon. Subclasses implement every method below."""

    name = ""

    def __init__(self, module):
        self.module = module

    @classmethod
    def installed(cls, module):
        """Why this engine is the one on this node (a short reason), or None."""
        raise NotImplementedError

    def running(self):
        raise NotImplementedError

    def node_view(self, node):
        """{'status': one of NODE_STATUSES, 'type': one of NODE_TYPES, 'links': {link: up|dead}}."""
        raise NotImplementedError

    def rscstatus(self):
        """One of RSC_STATES."""
        raise NotImplementedError

    def move_commands(self, before, hold):
        """The commands (argv lists) that take this node from `before` to holding `hold`; [] if there."""
        raise NotImplementedError

    def reached(self, status, hold):
        """Whether rscstatus `status` (just read) means this node holds `hold`."""
        return status == hold

    def settle_commands(self, hold):
        """Commands to run once `hold` is reached (planned with move_commands, before any move); [] here."""
        return []

    def cluster(self, config_dir):
        """What the cluster is configured to be: {'nodes': [...], 'groups': [{node, key, resources,
        addresses}], 'config': {nodes, keepalive_ms, warntime_ms, deadtime_ms, initdead_ms, udpport,
        auto_failback, media}}."""
        raise NotImplementedError


def _ipaddr_of(resource):
    """The IPv4 address a haresources IPaddr/IPaddr2 resource manages, else None."""
    if resource.name not in ("IPaddr", "IPaddr2") or not resource.args:
        return None
    return resource.args[0].split("/", 1)[0]


class ClStatusEngine(Engine):
    """Engines that answer cl_status' sub-commands and move resources with hb_standby/hb_takeover."""

    def status_argv(self):
        raise NotImplementedError

    def tool_argv(self, tool):
        """argv prefix of 'standby' or 'takeover'."""
        raise NotImplementedError

    def _ask(self, *args):
        argv = [*self.status_argv(), *args]
        rc, out, err = self.module.run_command(argv)
        return rc, out.strip(), err.strip(), " ".join(argv)

    def _answer(self, args, allowed, ok_codes=(CL_OK,)):
        rc, out, err, command = self._ask(*args)
        if rc == CL_TIMEOUT:
            raise EngineError(f"{command} timed out talking to the {self.name} daemon (rc {rc})")
        if rc not in ok_codes or out not in allowed:
            raise EngineError(
                f"{command} answered {out!r} (rc {rc}{', stderr: ' + repr(err) if err else ''}); "
                f"expected one of: {', '.join(allowed)}"
            )
        return out

    def running(self):
        rc, out, err, command = self._ask("hbstatus")
        if rc == CL_OK:
            return True
        if rc == CL_FAIL:
            return False
        raise EngineError(f"{command} failed with rc {rc}: {(out + ' ' + err).strip()!r}")

    def node_view(self, node):
        # nodestatus exits 1 for init/dead: that is an answer, not an error.
        status = self._answer(("nodestatus", node), NODE_STATUSES, ok_codes=(CL_OK, CL_FAIL))
        node_type = self._answer(("nodetype", node), NODE_TYPES)
        rc, out, err, command = self._ask("listhblinks", node)
        if rc != CL_OK:
            raise EngineError(f"{command} failed with rc {rc}: {(out + ' ' + err).strip()!r}")
        links = {}
        for link in out.split():
            links[link] = self._answer(("hblinkstatus", node, link), LINK_STATUSES, ok_codes=(CL_OK, CL_FAIL))
        return {"status": status, "type": node_type, "links": links}

    def rscstatus(self):
        return self._answer(("rscstatus",), RSC_STATES)

    def move_commands(self, before, hold):
        if hold not in MOVE_PLAN:
            raise EngineError(
                f"cannot plan a move to hold={hold!r}; expected one of: {', '.join(HOLD_TARGETS)}"
            )
        if before == hold:
            return []
        if before not in MOVE_PLAN[hold]:
            raise EngineError(f"cannot plan a move from rscstatus {before!r} to hold={hold!r}")
        return [[*self.tool_argv(tool), which] for tool, which in MOVE_PLAN[hold][before]]

    def cluster(self, config_dir):
        """ha.cf and haresources in config_dir, through the collection's one parser."""
        try:
            config = load_config(config_dir)
        except (ConfigError, ConfigErrors) as exc:
            raise EngineError(f"invalid Heartbeat configuration: {exc}") from exc
        ha_cf = config.ha_cf
        groups = []
        for group in config.resources:
            groups.append(
                {
                    "node": group.node,
                    "key": group.key,
                    "resources": [r.word for r in group.resources],
                    "addresses": [ip for ip in (_ipaddr_of(r) for r in group.resources) if ip],
                }
            )
        return {
            "nodes": list(ha_cf.nodes),
            "groups": groups,
            "config": {
                "nodes": list(ha_cf.nodes),
                "keepalive_ms": ha_cf.keepalive_ms,
                "warntime_ms": ha_cf.warntime_ms,
                "deadtime_ms": ha_cf.deadtime_ms,
                "initdead_ms": ha_cf.initdead_ms,
                "udpport": ha_cf.udpport,
                "auto_failback": ha_cf.auto_failback,
                "media": [{"kind": m.kind, "dev": m.dev, "address": m.address} for m in ha_cf.media],
            },
        }


def _heartbeat_tool(name):
    for directory in HEARTBEAT_TOOL_DIRS:
        path = os.path.join(directory, f"hb_{name}")
        if os.access(path, os.X_OK):
            return path
    return None


class HeartbeatEngine(ClStatusEngine):
    """Debian's heartbeat package: cl_status, /usr/share/heartbeat/hb_standby and hb_takeover."""

    name = "heartbeat"

    @classmethod
    def installed(cls, module):
        for daemon in HEARTBEAT_DAEMONS:
            if os.access(daemon, os.X_OK):
                return f"the Heartbeat daemon {daemon} is installed"
        return None

    def __init__(self, module):
        super().__init__(module)
        self._cl_status = module.get_bin_path("cl_status")
        self._tools = {tool: _heartbeat_tool(tool) for tool in ("standby", "takeover")}
        missing = [name for name, path in (("cl_status", self._cl_status),
                                           ("hb_standby", self._tools["standby"]),
                                           ("hb_takeover", self._tools["takeover"])) if not path]  # fmt: skip
        if missing:
            raise EngineError(
                f"engine=heartbeat but {', '.join(missing)} not found (Debian package heartbeat; hb_* looked "
                f"for in {', '.join(HEARTBEAT_TOOL_DIRS)})"
            )

    def status_argv(self):
        return [self._cl_status]

    def tool_argv(self, tool):
        return [self._tools[tool]]


class AgentEngine(ClStatusEngine):
    """hbagent: `python3 <agent_path> cl-status|standby|takeover`, no Heartbeat package needed."""

    name = "agent"

    @classmethod
    def running_signs(cls, module):
        """Why hbagent is running here (its control socket, or systemd says so), or None."""
        if os.path.exists(AGENT_SOCKET):
            return f"hbagent's control socket {AGENT_SOCKET} exists"
        systemctl = module.get_bin_path("systemctl")
        if systemctl:
            _rc, out, _err = module.run_command([systemctl, "is-active", AGENT_UNIT])
            if out.strip() in ("active", "activating", "reloading"):
                return f"{AGENT_UNIT} is {out.strip()}"
        return None

    @classmethod
    def installed(cls, module):
        agent_path = module.params["agent_path"]
        if os.path.isfile(agent_path):
            return f"the agent {agent_path} is installed"
        return None

    def __init__(self, module):
        super().__init__(module)
        agent_path = module.params["agent_path"]
        if not os.path.isfile(agent_path):
            raise EngineError(f"engine=agent but the agent is not installed at agent_path={agent_path}")
        self._agent = [module.get_bin_path("python3", required=True), agent_path]

    def status_argv(self):
        return [*self._agent, "cl-status"]

    def tool_argv(self, tool):
        return [*self._agent, tool]


# --------------------------------------------------------------------------------------------------
# Pacemaker answers: pure parsers of crm_mon/cibadmin --output-as=xml (Pacemaker 2.1, API 2.25),
# corosync-cfgtool -s and corosync-cmapctl (Corosync 3.1). Each raises EngineError naming `command`.

PACEMAKER_UNIT = "pacemaker.service"
PACEMAKER_DAEMONS = ("/usr/sbin/pacemakerd",)
# The CIB on disk: what heartbeat_info reports while Pacemaker is stopped (cibadmin needs the daemons).
PACEMAKER_CIB_FILE = "/var/lib/pacemaker/cib/cib.xml"
PACEMAKER_TOOLS = ("crm_mon", "cibadmin", "crm_resource", "crm_node", "crmadmin")
# crm_mon exit codes: CRM_EX_DISCONNECT (cluster not available here), CRM_EX_UNAVAILABLE (daemons starting)
CRM_EX_DISCONNECT, CRM_EX_UNAVAILABLE = 102, 69
INFINITY_SCORE = 1000000
# A resource's role while its action runs (crm_mon shows pending actions by default, record-pending is on).
PENDING_ROLES = ("Starting", "Stopping", "Migrating", "Promoting", "Demoting", "Unknown")
SETTLED_ROLES = ("Started", "Stopped", "Promoted", "Unpromoted", "Master", "Slave")
# crm_mon node type -> node_view type
PACEMAKER_NODE_TYPES = {"member": "normal", "remote": "normal", "ping": "ping", "unknown": "unknown"}
# corosync-cfgtool -s, per link and node: localhost (this node), connected, disconnected
KNET_LINK_STATUSES = {"localhost": "up", "connected": "up", "disconnected": "dead"}
# Constraints crm_resource --move/--ban write (crm_resource --clear removes them): never a preference.
CLI_CONSTRAINT_PREFIX = "cli-"
TRANSITION = "transition"


def _xml_root(command, rc, out):
    try:
        return ET.fromstring(out)
    except ET.ParseError as exc:
        raise EngineError(
            f"{command} answered no readable XML (rc {rc}: {exc}): {out.strip()[:300]!r}"
        ) from exc


def _flag(element, attr, command):
    value = element.get(attr)
    if value not in ("true", "false"):
        raise EngineError(
            f"{command} answered <{element.tag} {attr}={value!r}> for {element.get('name') or element.get('id')!r}; "
            "expected true or false"
        )
    return value == "true"


def _score(text, command, where):
    value = (text or "").strip().lstrip("+")
    if value in ("INFINITY", "-INFINITY"):
        return INFINITY_SCORE if value == "INFINITY" else -INFINITY_SCORE
    if not re.fullmatch(r"-?\d{1,9}", value):
        raise EngineError(
            f"{command} answered the score {text!r} in {where}; expected an integer or INFINITY"
        )
    return max(-INFINITY_SCORE, min(INFINITY_SCORE, int(value)))


def parse_crm_mon(out, command="crm_mon --output-as=xml", rc=0):
    """crm_mon --output-as=xml -> {'dc': name or None, 'nodes': [{name, id, status, type}],
    'groups': {group id: [{id, role, nodes: [names]}]}}. node status: unclean -> dead, pending -> init,
    online standby/maintenance -> up, online -> active, else dead."""
    root = _xml_root(command, rc, out)
    nodes_el = root.find("nodes")
    resources_el = root.find("resources")
    if nodes_el is None or resources_el is None:
        raise EngineError(f"{command} answered <{root.tag}> without <nodes> and <resources> (rc {rc})")
    dc_el = root.find("summary/current_dc")
    dc = dc_el.get("name") if dc_el is not None and dc_el.get("present") == "true" else None
    nodes = []
    for node in nodes_el.findall("node"):
        name, node_type = node.get("name"), node.get("type")
        if not name or node_type not in PACEMAKER_NODE_TYPES:
            raise EngineError(
                f"{command} answered a node {name!r} of type {node_type!r}; expected one of: "
                f"{', '.join(PACEMAKER_NODE_TYPES)}"
            )
        if _flag(node, "unclean", command):
            status = "dead"
        elif _flag(node, "pending", command):
            status = "init"
        elif _flag(node, "online", command):
            idle = _flag(node, "standby", command) or _flag(node, "maintenance", command)
            status = "up" if idle else "active"
        else:
            status = "dead"
        nodes.append(
            {"name": name, "id": node.get("id"), "status": status, "type": PACEMAKER_NODE_TYPES[node_type]}
        )
    groups = {}
    for group in resources_el.iter("group"):
        members = []
        for rsc in group.findall("resource"):
            role = rsc.get("role")
            if role not in PENDING_ROLES + SETTLED_ROLES:
                raise EngineError(
                    f"{command} answered the role {role!r} for resource {rsc.get('id')!r}; expected "
                    f"one of: {', '.join(SETTLED_ROLES + PENDING_ROLES)}"
                )
            members.append(
                {"id": rsc.get("id"), "role": role, "nodes": [n.get("name") for n in rsc.findall("node")]}
            )
        groups[group.get("id")] = members
    return {"dc": dc, "nodes": nodes, "groups": groups}


def group_placement(members):
    """Where a group runs: a node name, None (nowhere), or TRANSITION (an action pending, or split)."""
    if any(m["role"] in PENDING_ROLES for m in members):
        return TRANSITION
    where = {node for m in members for node in m["nodes"]}
    if len(where) > 1:
        return TRANSITION
    return next(iter(where), None)


def _resource_word(prim):
    """A primitive as a haresources-like word: IPaddr2::ip/cidr/nic, the service of a systemd/lsb/service
    resource, else Type::name=value::... (its instance attributes in CIB order)."""
    params = prim["params"]
    if prim["type"] in ("IPaddr", "IPaddr2") and params.get("ip"):
        parts = [params["ip"]]
        if params.get("cidr_netmask"):
            parts.append(params["cidr_netmask"])
            if params.get("nic"):
                parts.append(params["nic"])
        return f"{prim['type']}::{'/'.join(parts)}"
    if prim["class"] in ("systemd", "lsb", "service"):
        return prim["type"]
    return "::".join([prim["type"], *(f"{k}={v}" for k, v in params.items())])


def parse_cib(out, command="cibadmin --query --scope configuration", rc=0):
    """The CIB's configuration (or a whole <cib>) -> {'nodes': [unames], 'stickiness': int or None,
    'groups': [{id, preferred, scores: {node: score}, cli: [constraint ids], resources: [words],
    addresses: [ip]}]}. preferred = the node of the group's highest positive rsc_location score
    (the first one on a tie), constraints named cli-* (crm_resource --move/--ban) left out."""
    root = _xml_root(command, rc, out)
    config = root if root.tag == "configuration" else root.find("configuration")
    if config is None:
        raise EngineError(f"{command} answered <{root.tag}> without a <configuration> (rc {rc})")
    groups = []
    for group in config.findall("resources/group"):
        members = []
        for prim in group.findall("primitive"):
            params = {nv.get("name"): nv.get("value") for nv in prim.findall("instance_attributes/nvpair")}
            members.append({"class": prim.get("class"), "type": prim.get("type"), "params": params})
        groups.append(
            {
                "id": group.get("id"),
                "scores": {},
                "cli": [],
                "resources": [_resource_word(m) for m in members],
                "addresses": [
                    m["params"]["ip"]
                    for m in members
                    if m["type"] in ("IPaddr", "IPaddr2") and m["params"].get("ip")
                ],
            }
        )
    by_id = {g["id"]: g for g in groups}
    for location in config.findall("constraints/rsc_location"):
        group = by_id.get(location.get("rsc"))
        if group is None:
            continue
        if location.get("id", "").startswith(CLI_CONSTRAINT_PREFIX):
            group["cli"].append(location.get("id"))
        elif location.get("node") and location.get("score") is not None:
            where = f"rsc_location {location.get('id')!r}"
            group["scores"].setdefault(location.get("node"), _score(location.get("score"), command, where))
    for group in groups:
        best = max(group["scores"].values(), default=0)
        group["preferred"] = (
            next((n for n, v in group["scores"].items() if v == best), None) if best > 0 else None
        )
    stickiness = None
    for nvpair in config.findall("rsc_defaults/meta_attributes/nvpair"):
        if nvpair.get("name") == "resource-stickiness":
            stickiness = _score(nvpair.get("value"), command, "rsc_defaults resource-stickiness")
    nodes = [n.get("uname") for n in config.findall("nodes/node") if n.get("uname")]
    return {"nodes": nodes, "stickiness": stickiness, "groups": groups}


def parse_cfgtool_links(out, command="corosync-cfgtool -s"):
    """corosync-cfgtool -s (Corosync 3) -> {nodeid: {'link0': up|dead, ...}}."""
    links, link = {}, None
    for line in out.splitlines():
        header = re.match(r"LINK ID (\d+)", line)
        if header:
            link = f"link{header.group(1)}"
            continue
        member = re.match(r"\s*nodeid:?\s*(\d+):\s*(\S+)\s*$", line)
        if member and link:
            status = KNET_LINK_STATUSES.get(member.group(2))
            if status is None:
                raise EngineError(
                    f"{command} answered {member.group(2)!r} for node {member.group(1)} on {link}; "
                    f"expected one of: {', '.join(KNET_LINK_STATUSES)}"
                )
            links.setdefault(member.group(1), {})[link] = status
    return links


def parse_cmap(out):
    """corosync-cmapctl output lines 'key (type) = value' -> {key: value}."""
    pairs = {}
    for line in out.splitlines():
        match = re.match(r"(\S+) \(\w+\) = (.*)$", line.strip())
        if match:
            pairs[match.group(1)] = match.group(2)
    return pairs


class PacemakerEngine(Engine):
    """Corosync 3 + Pacemaker 2.1: crm_mon/cibadmin read, crm_resource moves (pacemaker-cli-utils).

    rscstatus: a group is "here" when its active members run on this node; "transition" while a member's
    action is pending, a group is split over nodes, there is no DC or the DC is not S_IDLE. The word is
    local/foreign/all/none by whether this node runs any group it is preferred for / any other group.
    A move is `crm_resource --move --resource G --node N` per group; once the target is reached, every
    group standing on its preferred node gets `crm_resource --clear --resource G` (the cli-prefer/cli-ban
    constraints go; the location scores and stickiness keep it there). A group moved away from its
    preferred node keeps its cli-prefer constraint, which is what holds it there against auto_failback
    (stickiness 0); the next switchover that brings it home (hold=local on its node, hold=none or all
    elsewhere) clears it.
    """

    name = "pacemaker"

    @classmethod
    def running_signs(cls, module):
        systemctl = module.get_bin_path("systemctl")
        if systemctl:
            _rc, out, _err = module.run_command([systemctl, "is-active", PACEMAKER_UNIT])
            if out.strip() in ("active", "activating", "reloading", "deactivating"):
                return f"{PACEMAKER_UNIT} is {out.strip()}"
        return None

    @classmethod
    def installed(cls, module):
        for daemon in PACEMAKER_DAEMONS:
            if os.access(daemon, os.X_OK):
                return f"the Pacemaker daemon {daemon} is installed"
        return None

    def __init__(self, module):
        super().__init__(module)
        self._bin = {tool: module.get_bin_path(tool) for tool in PACEMAKER_TOOLS}
        missing = [tool for tool, path in self._bin.items() if not path]
        if missing:
            raise EngineError(
                f"engine=pacemaker but {', '.join(missing)} not found (Debian package pacemaker-cli-utils)"
            )
        for tool in ("corosync-cfgtool", "corosync-cmapctl"):  # optional: links and timings, else {} / null
            self._bin[tool] = module.get_bin_path(tool)
        self._mon = None
        self._here = None
        self._links = None
        self._snapshot = None

    def _run(self, *argv):
        argv = [self._bin[argv[0]], *argv[1:]]
        rc, out, err = self.module.run_command(argv)
        return rc, out, err, " ".join(argv)

    def _checked(self, *argv):
        rc, out, err, command = self._run(*argv)
        if rc != 0:
            raise EngineError(f"{command} failed with rc {rc}: {(out + ' ' + err).strip()[:500]!r}")
        return out, command

    def _crm_mon(self):
        rc, out, err, command = self._run("crm_mon", "--output-as=xml", "--one-shot")
        if rc in (CRM_EX_DISCONNECT, CRM_EX_UNAVAILABLE):
            return None
        if rc != 0:
            raise EngineError(f"{command} failed with rc {rc}: {(out + ' ' + err).strip()[:500]!r}")
        self._mon = parse_crm_mon(out, command, rc)
        return self._mon

    def running(self):
        return self._crm_mon() is not None

    def _mon_now(self):
        mon = self._mon or self._crm_mon()
        if mon is None:
            raise EngineError("crm_mon --output-as=xml: the cluster is not available on this node")
        return mon

    def node_view(self, node):
        mon = self._mon_now()
        found = next((n for n in mon["nodes"] if n["name"] == node), None)
        if found is None:
            known = ", ".join(n["name"] for n in mon["nodes"])
            raise EngineError(f"crm_mon --output-as=xml lists no node {node!r} (nodes: {known})")
        return {"status": found["status"], "type": found["type"], "links": self._links_of(found["id"])}

    def _links_of(self, node_id):
        if not self._bin["corosync-cfgtool"]:
            return {}
        if self._links is None:
            out, command = self._checked("corosync-cfgtool", "-s")
            self._links = parse_cfgtool_links(out, command)
        return dict(self._links.get(str(node_id), {}))

    def _local_name(self):
        if self._here is None:
            out, command = self._checked("crm_node", "--name")
            self._here = out.strip()
            if not self._here:
                raise EngineError(f"{command} answered no node name")
        return self._here

    def _cib(self):
        out, command = self._checked("cibadmin", "--query", "--scope", "configuration")
        return parse_cib(out, command)

    def _dc_idle(self, dc):
        if not dc:
            return False
        rc, out, err, command = self._run("crmadmin", f"--status={dc}", "--output-as=xml", "--timeout=10s")
        if rc != 0:
            raise EngineError(f"{command} failed with rc {rc}: {(out + ' ' + err).strip()[:500]!r}")
        state = next((el.get("state") for el in _xml_root(command, rc, out).iter() if el.get("state")), None)
        if not state or not state.startswith("S_"):
            raise EngineError(f"{command} answered no controller state (S_IDLE, ...): {out.strip()[:300]!r}")
        return state == "S_IDLE"

    def rscstatus(self):
        mon = self._crm_mon()
        if mon is None:
            raise EngineError("crm_mon --output-as=xml: the cluster is not available on this node")
        cib = self._cib()
        here = self._local_name()
        groups = []
        for group in cib["groups"]:
            members = mon["groups"].get(group["id"])
            if members is None:
                raise EngineError(f"crm_mon --output-as=xml does not show the CIB's group {group['id']!r}")
            groups.append({**group, "where": group_placement(members)})
        busy = any(g["where"] == TRANSITION for g in groups) or not self._dc_idle(mon["dc"])
        self._snapshot = {"here": here, "groups": groups, "nodes": mon["nodes"], "busy": busy}
        if busy:
            return TRANSITION
        local = any(g["where"] == here for g in groups if g["preferred"] == here)
        foreign = any(g["where"] == here for g in groups if g["preferred"] != here)
        return {(False, False): "none", (True, False): "local", (False, True): "foreign"}.get(
            (local, foreign), "all"
        )

    # -- moves --------------------------------------------------------------------------------------
    def _target(self, group, hold, snap):
        """Where `group` should run for this node to hold `hold`; None when it may stay where it is."""
        here = snap["here"]
        if hold == "all" or (hold == "local" and group["preferred"] == here):
            return here
        if group["where"] != here:
            return None
        # hold none, or local and this is another node's group: the best other node that can take it
        candidates = [n["name"] for n in snap["nodes"] if n["status"] == "active" and n["name"] != here]
        if not candidates:
            raise EngineError(
                f"no other active node can take group {group['id']!r} (pacemaker nodes: "
                f"{', '.join(n['name'] + ' ' + n['status'] for n in snap['nodes'])})"
            )
        return max(candidates, key=lambda n: (group["scores"].get(n, 0), -candidates.index(n)))

    def _snap(self, before):
        if before == TRANSITION:
            raise EngineError(f"cannot plan a move from rscstatus {before!r}")
        if self._snapshot is None:
            self.rscstatus()
        return self._snapshot

    def move_commands(self, before, hold):
        if hold not in HOLD_TARGETS:
            raise EngineError(
                f"cannot plan a move to hold={hold!r}; expected one of: {', '.join(HOLD_TARGETS)}"
            )
        snap = self._snap(before)
        steps = []
        for group in snap["groups"]:
            target = self._target(group, hold, snap)
            if target and group["where"] != target:
                steps.append(
                    [self._bin["crm_resource"], "--move", "--resource", group["id"], "--node", target]
                )
        return steps

    def settle_commands(self, hold):
        """Clear the cli- constraints of every group that ends on its preferred node (they pin nothing then)."""
        snap = self._snapshot
        steps = []
        for group in snap["groups"] if snap else []:
            target = self._target(group, hold, snap)
            ends = target or group["where"]
            moved = target is not None and target != group["where"]
            if group["preferred"] and ends == group["preferred"] and (moved or group["cli"]):
                steps.append([self._bin["crm_resource"], "--clear", "--resource", group["id"]])
        return steps

    def reached(self, status, hold):
        if status == TRANSITION or self._snapshot is None:
            return False
        here, groups = self._snapshot["here"], self._snapshot["groups"]
        held = {g["id"] for g in groups if g["where"] == here}
        if hold == "all":
            return held == {g["id"] for g in groups}
        if hold == "none":
            return not held
        return held == {g["id"] for g in groups if g["preferred"] == here}

    # -- what the cluster is configured to be ------------------------------------------------------------
    def _timings(self):
        """deadtime/keepalive/warntime in ms from the running totem (token, token_retransmit, token_warning %)."""
        none = {"keepalive_ms": None, "warntime_ms": None, "deadtime_ms": None}
        if not self._bin["corosync-cmapctl"]:
            return none
        out, command = self._checked("corosync-cmapctl", "runtime.config.totem.")
        cmap = parse_cmap(out)
        values = {}
        for key in ("token", "token_retransmit", "token_warning"):
            text = cmap.get(f"runtime.config.totem.{key}")
            if text is not None and not text.isdigit():
                raise EngineError(
                    f"{command} answered runtime.config.totem.{key} = {text!r}; expected a number"
                )
            values[key] = int(text) if text is not None else None
        token, warning = values["token"], values["token_warning"]
        return {
            "keepalive_ms": values["token_retransmit"],
            "warntime_ms": token * warning // 100 if token and warning else None,
            "deadtime_ms": token,
        }

    def cluster(self, config_dir):
        """The CIB (cibadmin, or the file while Pacemaker is stopped); config_dir means nothing here."""
        mon = self._mon
        if mon is not None:
            cib = self._cib()
            nodes = [n["name"] for n in mon["nodes"]]
            timings = self._timings()
        else:
            try:
                with open(PACEMAKER_CIB_FILE, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as exc:
                raise EngineError(
                    f"Pacemaker is not running and its CIB {PACEMAKER_CIB_FILE} is unreadable: {exc}"
                ) from exc
            cib = parse_cib(text, PACEMAKER_CIB_FILE)
            nodes = cib["nodes"]
            timings = {"keepalive_ms": None, "warntime_ms": None, "deadtime_ms": None}
        groups = [
            {"node": g["preferred"], "key": g["id"], "resources": g["resources"], "addresses": g["addresses"]}
            for g in cib["groups"]
        ]
        config = {
            "nodes": nodes,
            **timings,
            "initdead_ms": None,
            "udpport": None,
            "auto_failback": "on" if not cib["stickiness"] else "off",
            "media": [],
        }
        return {"nodes": nodes, "groups": groups, "config": config}


ENGINES = {"heartbeat": HeartbeatEngine, "agent": AgentEngine, "pacemaker": PacemakerEngine}
# engine=auto asks these in order; the first reason found decides.
DETECTION = (
    (PacemakerEngine, "running_signs"),
    (AgentEngine, "running_signs"),
    (HeartbeatEngine, "installed"),
    (PacemakerEngine, "installed"),
    (AgentEngine, "installed"),
)


def detect_engine(module):
    """(engine name, reason) for engine=auto.

    A running Pacemaker wins, then a running hbagent: the agent's nodes have cl_status/hb_* wrappers too, so
    those tools say nothing. Then the Heartbeat daemon binary (only the heartbeat package installs it), then
    pacemakerd, then an installed agent zipapp (every node has one as the config checker, so it only counts
    where no daemon is installed).
    """
    for engine, probe in DETECTION:
        reason = getattr(engine, probe)(module)
        if reason:
            return engine.name, reason
    raise EngineError(
        f"engine=auto found no cluster daemon: no Pacemaker ({PACEMAKER_UNIT}, {', '.join(PACEMAKER_DAEMONS)}), "
        f"no hbagent running ({AGENT_SOCKET}, {AGENT_UNIT}), no Heartbeat daemon ({', '.join(HEARTBEAT_DAEMONS)}), "
        f"no agent at agent_path={module.params['agent_path']}"
    )


def resolve_engine(module):
    """The Engine for the module's `engine` option (detected for auto). Raises EngineError."""
    name = module.params["engine"]
    if name == "auto":
        name, _reason = detect_engine(module)
    if name not in ENGINES:
        raise EngineError(f"engine={name!r} is not one of: auto, {', '.join(ENGINES)}")
    return ENGINES[name](module)
