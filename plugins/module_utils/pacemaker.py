# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster data of the heartbeat role mapped onto Corosync + Pacemaker (stdlib only).

Input is the engine-free cluster data the role already has (nodes, resource groups whose resources are
parsed haresources words, auto_failback, deadtime); output is corosync.conf text and the CIB sections
(crm_config, rsc_defaults, resources, constraints) as XML text. The Ansible filter
(plugins/filter/pacemaker.py) parses the words with heartbeat_config and calls these functions; the
module pacemaker_cib compares sections with `normalise_section`.

Mapping (docs/PACEMAKER.md):
- IPaddr/IPaddr2::ip[/cidr[/nic[/broadcast]]] -> ocf:heartbeat:IPaddr2 (ip, cidr_netmask, nic, broadcast)
- a bare word (a service) -> systemd:<name> (Debian's systemd runs LSB scripts through generated units)
- a word with arguments (a /etc/ha.d/resource.d script) and the names in UNMAPPABLE -> MappingError
- each group -> a Pacemaker group; its node scores PREFERRED_SCORE, the other nodes, in node order,
  SCORE_STEP less each; auto_failback on -> resource-stickiness 0, off -> STICKY (above every difference)
- deadtime -> totem token so that token + consensus (1.2 x token) ~ deadtime
"""

from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET

PREFERRED_SCORE = 100
SCORE_STEP = 10
STICKY = 1000
CONSENSUS_FACTOR = 1.2
# corosync 3 refuses keys shorter than 1024 bits or longer than 4096 bits
AUTHKEY_MIN_BYTES = 128
AUTHKEY_MAX_BYTES = 512
# Resources that exist only for the Heartbeat/hbagent engines (word -> why)
UNMAPPABLE = {
    "content-sync": "the content_sync role's resource runs under Heartbeat or hbagent only",
}
SECTIONS = ("crm_config", "rsc_defaults", "op_defaults", "resources", "constraints")

_ID_BAD = re.compile(r"[^A-Za-z0-9_.-]")


class MappingError(ValueError):
    """Data the Pacemaker engine cannot express; .variable names the role variable (with index)."""

    def __init__(self, variable: str, reason: str):
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


# ----------------------------------------------------------------------------------------------
# corosync.conf


def token_ms(deadtime_ms: int, token: int | None = None) -> int:
    """Totem token (ms): an explicit value wins, else token + consensus (1.2 x token) ~ deadtime."""
    if token is not None:
        return int(token)
    return max(1000, round(deadtime_ms / (1 + CONSENSUS_FACTOR)))


def _check_nodes(nodes) -> list[dict]:
    if not isinstance(nodes, (list, tuple)) or not nodes:
        raise MappingError("heartbeat_nodes", "needs at least one node {name, address}")
    out = []
    for i, node in enumerate(nodes):
        if not isinstance(node, dict) or not node.get("name") or not node.get("address"):
            raise MappingError(f"heartbeat_nodes[{i}]", f"needs a name and an address, got {node!r}")
        out.append({"name": str(node["name"]).lower(), "address": str(node["address"])})
    return out


def render_corosync_conf(settings: dict) -> str:
    """corosync.conf (knet, crypto on) for {cluster_name, nodes: [{name, address}], token}.

    Node ids follow the node order (1, 2, ...). Two nodes get two_node (quorum with one node left,
    wait_for_all at a cold start); more nodes use plain votequorum (a majority).
    """
    nodes = _check_nodes(settings.get("nodes"))
    name = str(settings.get("cluster_name") or "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", name):
        raise MappingError(
            "heartbeat_pacemaker_cluster_name", f"1 to 32 letters, digits, - or _, got {name!r}"
        )
    token = settings.get("token")
    if isinstance(token, bool) or not isinstance(token, int) or token < 200:
        raise MappingError("heartbeat_pacemaker_token", f"a number of milliseconds >= 200, got {token!r}")
    consensus = round(token * CONSENSUS_FACTOR)
    lines = [
        "# Managed by hakit.heartbeat (role heartbeat, engine pacemaker): edits are overwritten.",
        "totem {",
        "    version: 2",
        f"    cluster_name: {name}",
        "    transport: knet",
        "    crypto_cipher: aes256",
        "    crypto_hash: sha256",
        f"    token: {token}",
        f"    consensus: {consensus}",
        "}",
        "",
        "nodelist {",
    ]
    for i, node in enumerate(nodes, start=1):
        lines += [
            "    node {",
            f"        name: {node['name']}",
            f"        nodeid: {i}",
            f"        ring0_addr: {node['address']}",
            "    }",
        ]
    lines += ["}", "", "quorum {", "    provider: corosync_votequorum"]
    if len(nodes) == 2:
        lines.append("    two_node: 1")
    lines += [
        "}",
        "",
        "logging {",
        "    to_logfile: yes",
        "    logfile: /var/log/corosync/corosync.log",
        "    to_syslog: yes",
        "    timestamp: on",
        "}",
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# CIB


def xml_id(text: str) -> str:
    """A valid, readable XML id from any text."""
    ident = _ID_BAD.sub("-", str(text))
    return ident if re.match(r"[A-Za-z_]", ident) else f"r-{ident}"


def _nvset(parent: ET.Element, tag: str, set_id: str, pairs: list[tuple[str, str]]) -> ET.Element:
    nvset = ET.SubElement(parent, tag, {"id": set_id})
    for name, value in pairs:
        ET.SubElement(nvset, "nvpair", {"id": f"{set_id}-{name}", "name": name, "value": str(value)})
    return nvset


def _ops(parent: ET.Element, rid: str, ops: list[tuple[str, int, str]]) -> None:
    operations = ET.SubElement(parent, "operations")
    for name, interval, timeout in ops:
        ET.SubElement(
            operations,
            "op",
            {
                "id": f"{rid}-{name}-interval-{interval}s",
                "name": name,
                "interval": f"{interval}s",
                "timeout": timeout,
            },
        )


def map_resource(name: str, args: list[str], variable: str) -> dict:
    """One parsed haresources resource -> {id, class, provider?, type, params}."""
    if name in UNMAPPABLE:
        raise MappingError(variable, f"{name}: {UNMAPPABLE[name]}; the pacemaker engine cannot run it")
    if name in ("IPaddr", "IPaddr2"):
        if len(args) != 1:
            raise MappingError(
                variable, f"{name} takes one argument ip[/cidr[/nic[/broadcast]]], got {args!r}"
            )
        parts = args[0].split("/")
        params = [("ip", parts[0])]
        if len(parts) > 1:
            mask = parts[1]
            cidr = int(mask) if mask.isdigit() else ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
            params.append(("cidr_netmask", str(cidr)))
        rest = parts[2:]
        if rest and not rest[0][:1].isdigit():
            params.append(("nic", rest.pop(0)))
        if rest:
            params.append(("broadcast", rest[0]))
        return {"id": xml_id(f"ip-{parts[0]}"), "class": "ocf", "provider": "heartbeat", "type": "IPaddr2",
                "params": params}  # fmt: skip
    if args:
        raise MappingError(
            variable,
            f"{name}::{'::'.join(args)} is a Heartbeat resource script with arguments (/etc/ha.d/resource.d): "
            "the pacemaker engine maps only IPaddr/IPaddr2 and services (a systemd unit or LSB script)",
        )
    return {"id": xml_id(name), "class": "systemd", "type": name, "params": []}


def _auto_failback_on(value) -> bool:
    text = str(value).strip().lower()
    if text in ("on", "true", "yes", "legacy", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise MappingError("heartbeat_auto_failback", f"on, off or legacy, got {value!r}")


def node_scores(preferred: str, nodes: list[str]) -> list[tuple[str, int]]:
    """Location scores of a group: its node first, the others in node order, SCORE_STEP apart."""
    order = [preferred] + [n for n in nodes if n != preferred]
    return [(node, PREFERRED_SCORE - SCORE_STEP * rank) for rank, node in enumerate(order)]


def cib_sections(data: dict) -> dict:
    """The CIB sections (XML text) for the cluster data.

    data: nodes [names], groups [{node, variable, resources: [{name, args, variable}]}], auto_failback,
    monitor_interval (s), fence_devices [{name, agent, params, nodes}], stonith_enabled (bool).
    """
    nodes = [str(n).lower() for n in data.get("nodes") or []]
    interval = data.get("monitor_interval", 10)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise MappingError(
            "heartbeat_pacemaker_monitor_interval", f"a number of seconds >= 1, got {interval!r}"
        )
    failback = _auto_failback_on(data.get("auto_failback", "on"))
    stonith = bool(data.get("stonith_enabled", True))

    crm_config = ET.Element("crm_config")
    _nvset(crm_config, "cluster_property_set", "cib-bootstrap-options", [
        ("stonith-enabled", "true" if stonith else "false"),
        # two_node keeps a lone survivor of a pair quorate; with more nodes the minority stops its resources
        ("no-quorum-policy", "stop"),
        # a cold start waits dc-deadtime for an election (default 20s)
        ("dc-deadtime", "5s"),
        ("cluster-recheck-interval", "5min"),
    ])  # fmt: skip
    rsc_defaults = ET.Element("rsc_defaults")
    _nvset(rsc_defaults, "meta_attributes", "rsc-options",
           [("resource-stickiness", "0" if failback else str(STICKY))])  # fmt: skip

    resources = ET.Element("resources")
    constraints = ET.Element("constraints")
    seen: dict[str, str] = {}

    def claim(ident: str, variable: str) -> None:
        if ident in seen:
            raise MappingError(
                variable, f"maps to the Pacemaker id {ident!r}, as {seen[ident]} does: ids must be unique"
            )
        seen[ident] = variable

    for d, device in enumerate(data.get("fence_devices") or []):
        where = f"heartbeat_pacemaker_fence_devices[{d}]"
        if not isinstance(device, dict) or not device.get("name") or not device.get("agent"):
            raise MappingError(where, f"needs a name and an agent (e.g. fence_ipmilan), got {device!r}")
        fenced = [str(n).lower() for n in device.get("nodes") or []]
        unknown = [n for n in fenced if n not in nodes]
        if unknown:
            raise MappingError(
                f"{where}.nodes", f"{', '.join(unknown)} not cluster nodes ({', '.join(nodes)})"
            )
        params = device.get("params") or {}
        if not isinstance(params, dict):
            raise MappingError(f"{where}.params", f"must be a mapping, got {params!r}")
        rid = xml_id(f"fence-{device['name']}")
        claim(rid, where)
        prim = ET.SubElement(
            resources, "primitive", {"id": rid, "class": "stonith", "type": str(device["agent"])}
        )
        pairs = [(str(k), str(v)) for k, v in sorted(params.items())]
        if fenced and "pcmk_host_list" not in params:
            pairs.append(("pcmk_host_list", " ".join(fenced)))
        _nvset(prim, "instance_attributes", f"{rid}-instance_attributes", pairs)
        _ops(prim, rid, [("monitor", 60, "20s")])
        if len(fenced) == 1:  # a device never runs on the node it fences
            ET.SubElement(constraints, "rsc_location",
                          {"id": f"loc-{rid}-avoid-{xml_id(fenced[0])}", "rsc": rid, "node": fenced[0],
                           "score": "-INFINITY"})  # fmt: skip

    for g, group in enumerate(data.get("groups") or []):
        where = group.get("variable", f"heartbeat_resource_groups[{g}]")
        preferred = str(group.get("node") or "").lower()
        if preferred not in nodes:
            raise MappingError(f"{where}.node", f"{preferred!r} is not a cluster node ({', '.join(nodes)})")
        members = group.get("resources") or []
        if not members:
            raise MappingError(f"{where}.resources", "a group needs at least one resource")
        mapped = []
        for j, res in enumerate(members):
            variable = res.get("variable", f"{where}.resources[{j}]")
            prim = map_resource(res["name"], list(res.get("args") or []), variable)
            claim(prim["id"], variable)
            mapped.append(prim)
        gid = xml_id(f"grp-{mapped[0]['id']}")
        claim(gid, where)
        group_el = ET.SubElement(resources, "group", {"id": gid})
        for prim in mapped:
            attrs = {"id": prim["id"], "class": prim["class"], "type": prim["type"]}
            if prim.get("provider"):
                attrs["provider"] = prim["provider"]
            el = ET.SubElement(group_el, "primitive", attrs)
            if prim["params"]:
                _nvset(el, "instance_attributes", f"{prim['id']}-instance_attributes", prim["params"])
            slow = "100s" if prim["class"] == "systemd" else "20s"
            _ops(el, prim["id"], [("monitor", interval, "20s"), ("start", 0, slow), ("stop", 0, slow)])
        for node, score in node_scores(preferred, nodes):
            ET.SubElement(constraints, "rsc_location",
                          {"id": f"loc-{gid}-{xml_id(node)}", "rsc": gid, "node": node, "score": str(score)})  # fmt: skip

    return {name: ET.tostring(el, encoding="unicode")
            for name, el in (("crm_config", crm_config), ("rsc_defaults", rsc_defaults),
                             ("resources", resources), ("constraints", constraints))}  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Comparing a live section with the wanted one


def _canonical(el: ET.Element) -> ET.Element:
    out = ET.Element(el.tag, dict(sorted(el.attrib.items())))
    for child in el:
        if isinstance(child.tag, str):  # drops comments
            out.append(_canonical(child))
    return out


def _to_text(el: ET.Element) -> str:
    ET.indent(el)
    return ET.tostring(el, encoding="unicode")


def _preserve(section: str, current: ET.Element, wanted: ET.Element) -> None:
    """Copy into `wanted` what others own in `current`, so it is neither compared nor removed.

    crm_config/rsc_defaults/op_defaults: name/value pairs the wanted sets do not name (Pacemaker's own
    dc-version..., maintenance-mode set by an operator); constraints: crm_resource's cli-prefer-/cli-ban-
    constraints (a manual move, cleared with crm_resource --clear).
    """
    if section in ("crm_config", "rsc_defaults", "op_defaults"):
        wanted_sets = {s.get("id"): s for s in wanted}
        for cur_set in current:
            target = wanted_sets.get(cur_set.get("id"))
            if target is None:
                wanted.append(cur_set)
                continue
            named = {p.get("name") for p in target}
            for pair in cur_set:
                if pair.get("name") not in named:
                    target.append(pair)
    elif section == "constraints":
        for con in current:
            if str(con.get("id", "")).startswith(("cli-prefer-", "cli-ban-")):
                wanted.append(con)


def _sorted_children(el: ET.Element, section: str) -> None:
    # order matters inside groups and resources; not among name/value pairs or constraints
    if section in ("crm_config", "rsc_defaults", "op_defaults", "constraints"):
        for nvset in el:
            nvset[:] = sorted(nvset, key=lambda e: (e.get("name") or "", e.get("id") or ""))
        if section == "constraints":
            el[:] = sorted(el, key=lambda e: e.get("id") or "")


def normalise_section(section: str, wanted_xml: str, current_xml: str | None) -> tuple[str, str]:
    """(current, wanted) as comparable text; `wanted` already holds what must be kept from `current`.

    An absent or empty section compares as an empty element of that name.
    """
    if section not in SECTIONS:
        raise ValueError(f"unknown CIB section {section!r} (known: {', '.join(SECTIONS)})")
    wanted = _canonical(ET.fromstring(wanted_xml))
    if wanted.tag != section:
        raise ValueError(f"the XML for section {section} has the root element <{wanted.tag}>")
    current = (
        _canonical(ET.fromstring(current_xml)) if current_xml and current_xml.strip() else ET.Element(section)
    )
    _preserve(section, current, wanted)
    wanted = _canonical(wanted)
    for el in (current, wanted):
        _sorted_children(el, section)
    return _to_text(current), _to_text(wanted)


def authkey_problem(key: str) -> str | None:
    """Why a corosync authkey is refused, or None."""
    size = len(key.encode())
    if size < AUTHKEY_MIN_BYTES or size > AUTHKEY_MAX_BYTES:
        return f"must be {AUTHKEY_MIN_BYTES} to {AUTHKEY_MAX_BYTES} bytes long, it has {size}"
    return None


# ----------------------------------------------------------------------------------------------
# Reading crm_mon --output-as=xml


def cluster_status(crm_mon_xml: str) -> dict:
    """{dc, nodes: {name: online}, resources: {id: {group, role, nodes, failed, managed}}} from crm_mon XML."""
    root = ET.fromstring(crm_mon_xml)
    dc = root.find("./summary/current_dc")
    nodes = {n.get("name"): n.get("online") == "true" for n in root.findall("./nodes/node")}
    resources = {}

    def add(res: ET.Element, group: str | None) -> None:
        resources[res.get("id")] = {
            "group": group,
            "role": res.get("role"),
            "nodes": [n.get("name") for n in res.findall("node")],
            "failed": res.get("failed") == "true",
            "managed": res.get("managed") != "false",
        }

    for el in root.findall("./resources/*"):
        if el.tag == "group":
            for res in el.findall("resource"):
                add(res, el.get("id"))
        elif el.tag == "resource":
            add(el, None)
    return {"dc": dc is not None and dc.get("present") == "true", "nodes": nodes, "resources": resources}


def placement_problems(status: dict, sections: dict, auto_failback) -> list[str]:
    """What keeps the cluster from the wanted placement ([] = settled).

    Every node online and a DC; each group's resources started on one node: with auto_failback on the
    online node of highest location score, else any online node.
    """
    problems = []
    if not status.get("dc"):
        problems.append("no DC elected yet")
    offline = sorted(n for n, up in status.get("nodes", {}).items() if not up)
    if offline:
        problems.append(f"offline: {', '.join(offline)}")
    online = {n for n, up in status.get("nodes", {}).items() if up}
    failback = _auto_failback_on(auto_failback)
    scores: dict[str, list[tuple[int, str]]] = {}
    for con in ET.fromstring(sections["constraints"]):
        if con.tag == "rsc_location" and con.get("score", "").lstrip("-").isdigit():
            scores.setdefault(con.get("rsc"), []).append((int(con.get("score")), con.get("node")))
    for group in ET.fromstring(sections["resources"]).findall("group"):
        gid = group.get("id")
        members = [p.get("id") for p in group.findall("primitive")]
        where = set()
        for rid in members:
            res = status.get("resources", {}).get(rid)
            if res is None or res["role"] != "Started" or res["failed"] or len(res["nodes"]) != 1:
                problems.append(f"{gid}: {rid} is {'unknown' if res is None else res['role']}"
                                f"{' (failed)' if res and res['failed'] else ''}")  # fmt: skip
                continue
            where.add(res["nodes"][0])
        if len(where) > 1:
            problems.append(f"{gid}: members on {', '.join(sorted(where))}")
        ranked = [node for score, node in sorted(scores.get(gid, []), key=lambda s: -s[0]) if node in online]
        if failback and ranked and where and where != {ranked[0]}:
            problems.append(f"{gid}: on {', '.join(sorted(where))}, wanted on {ranked[0]}")
    return problems
