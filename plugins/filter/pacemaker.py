# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the heartbeat role's pacemaker engine: thin wrappers over module_utils/pacemaker.

Resource words are parsed by heartbeat_config (the one parser), mapped by module_utils/pacemaker;
MappingErrors become AnsibleFilterErrors naming the role variable. Each filter is documented in the
sidecar <name>.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.hakit.heartbeat.plugins.filter.heartbeat import parse_resource_word, resource_groups
from ansible_collections.hakit.heartbeat.plugins.module_utils import pacemaker as pm


def _parsed_groups(groups, variable: str) -> list[dict]:
    """[{node, variable, resources: [{name, args, variable}]}] from the role's groups (dicts or words)."""
    out = []
    for i, group in enumerate(resource_groups(groups, variable)):
        where = f"{variable}[{i}]"
        resources = []
        for j, word in enumerate(group.get("resources") or []):
            at = f"{where}.resources[{j}]"
            res = parse_resource_word(group.get("node"), word, at)
            resources.append({"name": res.name, "args": list(res.args), "variable": at, "word": res.word})
        out.append({"node": group.get("node"), "variable": where, "resources": resources})
    return out


def pcmk_token(deadtime_ms, token=None) -> int:
    """Totem token in ms: `token` when given, else derived from deadtime (ms)."""
    try:
        return pm.token_ms(int(deadtime_ms), None if token is None else int(token))
    except (TypeError, ValueError):
        raise AnsibleFilterError(
            f"heartbeat_pacemaker_token: a number of milliseconds, got {token!r} (deadtime {deadtime_ms!r})"
        ) from None


def pcmk_corosync_conf(settings: dict) -> str:
    """corosync.conf text from {cluster_name, nodes: [{name, address}], token}."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError(f"pcmk_corosync_conf: expected a mapping, got {type(settings).__name__}")
    try:
        return pm.render_corosync_conf(dict(settings))
    except pm.MappingError as exc:
        raise AnsibleFilterError(str(exc)) from None


def pcmk_cib(groups, nodes, auto_failback="on", monitor_interval=10, fence_devices=None, stonith_enabled=True,
             variable: str = "heartbeat_resource_groups") -> dict:  # fmt: skip
    """{crm_config, rsc_defaults, resources, constraints}: XML text of each CIB section."""
    data = {
        "nodes": list(nodes or []),
        "groups": _parsed_groups(groups, variable),
        "auto_failback": auto_failback,
        "monitor_interval": monitor_interval,
        "fence_devices": list(fence_devices or []),
        "stonith_enabled": bool(stonith_enabled),
    }
    try:
        return pm.cib_sections(data)
    except pm.MappingError as exc:
        raise AnsibleFilterError(str(exc)) from None


def pcmk_unmapped(groups, scripts=None, variable: str = "heartbeat_resource_groups") -> list:
    """Messages for every resource the pacemaker engine cannot map ([] when all map).

    scripts: names of /etc/ha.d/resource.d scripts found on the node (a bare word naming one is a
    Heartbeat script, not a service).
    """
    scripts = set(scripts or []) - {"IPaddr", "IPaddr2"}
    problems = []
    for group in _parsed_groups(groups, variable):
        for res in group["resources"]:
            if res["name"] in scripts:
                problems.append(
                    f"{res['variable']} ({res['word']}) is the Heartbeat resource script "
                    f"/etc/ha.d/resource.d/{res['name']}: the pacemaker engine maps only IPaddr/IPaddr2 and "
                    "services (systemd units or LSB scripts)"
                )
                continue
            try:
                pm.map_resource(res["name"], res["args"], res["variable"])
            except pm.MappingError as exc:
                problems.append(f"{exc} ({res['word']})")
    return problems


def pcmk_authkey_problem(key) -> str:
    """Why heartbeat_pacemaker_auth_key is refused ('' when it is fine). Never echoes the key."""
    if not isinstance(key, str) or any(c.isspace() for c in key):
        return "heartbeat_pacemaker_auth_key must be one printable word"
    problem = pm.authkey_problem(key)
    return f"heartbeat_pacemaker_auth_key {problem}" if problem else ""


def pcmk_status(crm_mon_xml) -> dict:
    """crm_mon --output-as=xml -> {dc, nodes: {name: online}, resources: {id: {group, role, nodes, failed, managed}}}."""
    try:
        return pm.cluster_status(str(crm_mon_xml))
    except SyntaxError as exc:  # ET.ParseError
        raise AnsibleFilterError(f"pcmk_status: crm_mon's answer is not XML: {exc}") from None


def pcmk_placement_problems(crm_mon_xml, sections: dict, auto_failback="on") -> list:
    """What keeps the cluster from the wanted placement ([] = settled), from crm_mon XML and pcmk_cib's sections."""
    try:
        return pm.placement_problems(pm.cluster_status(str(crm_mon_xml)), dict(sections), auto_failback)
    except SyntaxError as exc:
        return [f"crm_mon's answer is not XML: {exc}"]
    except pm.MappingError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self):
        return {
            "pcmk_token": pcmk_token,
            "pcmk_corosync_conf": pcmk_corosync_conf,
            "pcmk_cib": pcmk_cib,
            "pcmk_unmapped": pcmk_unmapped,
            "pcmk_authkey_problem": pcmk_authkey_problem,
            "pcmk_status": pcmk_status,
            "pcmk_placement_problems": pcmk_placement_problems,
        }
