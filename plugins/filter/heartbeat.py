# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the heartbeat role: thin wrappers over module_utils/heartbeat_config.

Rendering and parsing live in heartbeat_config alone; these filters only translate the role's
data model (resource dicts, node facts) and turn ConfigErrors into AnsibleFilterError messages
that name the role variable to fix. Each filter is documented in the sidecar <name>.yml.
"""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError
from ansible_collections.hakit.heartbeat.plugins.module_utils import heartbeat_config as hc

IP_RESOURCE_TYPES = ("IPaddr", "IPaddr2")


def _variable_for(path: str, variables: dict | None) -> str:
    """Rename the renderer's input path (e.g. `ha_cf.media[0].interfaces[1]`) to a role variable.

    The longest mapped prefix wins; what follows it (index, sub-key) is kept, so the message
    points at the exact list item. Unmapped paths are returned unchanged.
    """
    best = ""
    for prefix in variables or {}:
        boundary = path[len(prefix) : len(prefix) + 1]
        if path.startswith(prefix) and boundary in ("", ".", "[") and len(prefix) > len(best):
            best = prefix
    if not best:
        return path
    rest = path[len(best) :]
    target = variables[best]
    # "heartbeat_" style targets take the next key directly: ha_cf.keepalive -> heartbeat_keepalive
    if target.endswith("_") and rest.startswith("."):
        rest = rest[1:]
    return target + rest


def _filter_error(what: str, exc: hc.ConfigErrors, variables: dict | None) -> AnsibleFilterError:
    problems = [f"{_variable_for(e.path, variables)}: {e.reason}" for e in exc.errors]
    return AnsibleFilterError(f"{what}: " + "; ".join(problems))


def _as_dict(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise AnsibleFilterError(f"{what}: expected a mapping, got {type(value).__name__}")
    return dict(value)


def ha_cf(settings: dict, variables: dict | None = None) -> str:
    """ha.cf text from the role's settings dict; keys with a null value are left out."""
    clean = {k: v for k, v in _as_dict(settings, "ha_cf").items() if v is not None}
    try:
        return hc.render_ha_cf(clean)
    except hc.ConfigErrors as exc:
        raise _filter_error("ha.cf", exc, variables) from None


# Group keys that only hbagent reads (hbagent.conf); Heartbeat's haresources has no place for them.
AGENT_GROUP_KEYS = ("make_before_break",)


def haresources(groups: list, nodes: list | None = None, variables: dict | None = None) -> str:
    """haresources text; resources may be words or the role's resource dicts."""
    words = [{k: v for k, v in g.items() if k not in AGENT_GROUP_KEYS} if isinstance(g, dict) else g
             for g in resource_groups(groups, variables=variables)]  # fmt: skip
    try:
        return hc.render_haresources(words, nodes=list(nodes) if nodes is not None else None)
    except hc.ConfigErrors as exc:
        raise _filter_error("haresources", exc, variables) from None


def authkeys(settings: dict, variables: dict | None = None) -> str:
    """authkeys text. Messages never echo the key itself."""
    try:
        return hc.render_authkeys(_as_dict(settings, "authkeys"))
    except hc.ConfigErrors as exc:
        raise _filter_error("authkeys", exc, variables) from None


def hb_agent_conf(groups: list, variable: str = "heartbeat_resource_groups") -> str:
    """hbagent.conf text: `make_before_break <group key>` for every group that asks for it."""
    lines = []
    for i, group in enumerate(resource_groups(groups, variable)):
        wanted = group.get("make_before_break", False) if isinstance(group, dict) else False
        if not isinstance(wanted, bool):
            raise AnsibleFilterError(f"{variable}[{i}].make_before_break: must be true or false, got {wanted!r}")
        resources = group.get("resources") or []
        if wanted and resources:
            lines.append(f"make_before_break {resources[0]}")
    return "".join(f"{line}\n" for line in lines)


def hb_safety_warnings(
    settings: dict, authkeys_settings: dict | None = None, variables: dict | None = None
) -> list:
    """Warnings about combinations that leave the pair open to split brain (heartbeat_config.safety_warnings)."""
    text = ha_cf(settings, variables)
    keys = None
    if authkeys_settings is not None:
        try:
            keys = hc.parse_authkeys(hc.render_authkeys(_as_dict(authkeys_settings, "authkeys")))
        except hc.ConfigErrors as exc:
            raise _filter_error("authkeys", exc, variables) from None
    return hc.safety_warnings(hc.parse_ha_cf(text), keys)


def hb_msec(value, variable: str = "value") -> int:
    """A Heartbeat time (number = seconds, or "500ms", "250000us") in milliseconds."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise AnsibleFilterError(f'{variable}: must be seconds or a time such as "500ms", got {value!r}')
    # numbers are seconds, as in ha.cf
    text = f"{value * 1000}ms" if isinstance(value, (int, float)) else value
    msec = hc.parse_msec(text)
    if msec is None:
        raise AnsibleFilterError(f'{variable}: must be seconds or a time such as "500ms", got {value!r}')
    return msec


def _word_part(value, variable: str, what: str) -> str:
    text = "" if value is None or isinstance(value, bool) else str(value).strip()
    if not text or any(c.isspace() or c in ",#" for c in text) or "::" in text:
        raise AnsibleFilterError(f"{variable}: invalid {what} {value!r}")
    return text


def hb_resource_word(resource, variable: str = "resource") -> str:
    """One haresources word from a resource dict (or a word, passed through).

    - {type: IPaddr|IPaddr2, address, cidr?, interface?, broadcast?} -> IPaddr::a.b.c.d/cidr/nic[/bcast]
    - {type: service, name} -> name (Heartbeat runs /etc/ha.d/resource.d/name or /etc/init.d/name)
    - {type: raw, word} or a plain string -> the word as given (Script::arg1::arg2)
    """
    if isinstance(resource, str):
        return resource
    if not isinstance(resource, dict):
        raise AnsibleFilterError(f"{variable}: must be a word or a mapping with a 'type', got {resource!r}")
    kind = resource.get("type")
    known = {
        "IPaddr": {"type", "address", "cidr", "interface", "broadcast"},
        "IPaddr2": {"type", "address", "cidr", "interface", "broadcast"},
        "service": {"type", "name"},
        "raw": {"type", "word"},
    }
    if kind not in known:
        raise AnsibleFilterError(f"{variable}.type: must be one of {', '.join(known)}, got {kind!r}")
    unknown = sorted(set(resource) - known[kind])
    if unknown:
        raise AnsibleFilterError(
            f"{variable}: unknown key(s) {', '.join(unknown)} for type {kind}"
            f" (known: {', '.join(sorted(known[kind]))})"
        )
    if kind == "service":
        return _word_part(resource.get("name"), f"{variable}.name", "service name")
    if kind == "raw":
        word = resource.get("word")
        if not isinstance(word, str) or not word.strip() or any(c.isspace() for c in word.strip()):
            raise AnsibleFilterError(f"{variable}.word: must be one haresources word, got {word!r}")
        return word.strip()
    parts = [_word_part(resource.get("address"), f"{variable}.address", "address")]
    if resource.get("cidr") is not None:
        parts.append(_word_part(resource["cidr"], f"{variable}.cidr", "cidr"))
    if resource.get("interface") is not None:
        if len(parts) < 2:
            # the IPaddr wrapper reads the interface from the third part only
            raise AnsibleFilterError(f"{variable}.cidr: needed when an interface is given")
        parts.append(_word_part(resource["interface"], f"{variable}.interface", "interface"))
    if resource.get("broadcast") is not None:
        if len(parts) < 3:
            raise AnsibleFilterError(f"{variable}.interface: needed when a broadcast address is given")
        parts.append(_word_part(resource["broadcast"], f"{variable}.broadcast", "broadcast"))
    return f"{kind}::" + "/".join(parts)


def resource_groups(groups, variable: str = "haresources", variables: dict | None = None) -> list:
    """The role's resource groups with every resource turned into its haresources word."""
    name = _variable_for(variable, variables)
    if groups is None:
        return []
    if not isinstance(groups, (list, tuple)):
        raise AnsibleFilterError(f"{name}: must be a list of {{node, resources}}, got {groups!r}")
    out = []
    for i, group in enumerate(groups):
        if not isinstance(group, dict):
            raise AnsibleFilterError(f"{name}[{i}]: must be a mapping {{node, resources}}, got {group!r}")
        converted = dict(group)
        resources = group.get("resources")
        if isinstance(resources, (list, tuple)):
            converted["resources"] = [
                hb_resource_word(res, f"{name}[{i}].resources[{j}]") for j, res in enumerate(resources)
            ]
        out.append(converted)
    return out


def parse_resource_word(node, word: str, where: str) -> hc.Resource:
    """One haresources word of a group, parsed as Heartbeat would; an error names `where` (the variable)."""
    try:
        parsed = hc.parse_haresources(f"{node or 'node'} {word}\n", path=where)
    except hc.ConfigErrors as exc:
        raise AnsibleFilterError(f"{where}: " + "; ".join(e.reason for e in exc.errors)) from None
    return parsed[0].resources[0]


def _ipaddr_parts(arg: str) -> dict:
    """IPaddr argument ip[/netmask[/nic-or-broadcast[/broadcast]]]: third part is a NIC unless numeric."""
    parts = arg.split("/")
    cidr = None
    if len(parts) > 1:
        mask = parts[1]
        cidr = int(mask) if mask.isdigit() else ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
    interface = parts[2] if len(parts) > 2 and not parts[2][:1].isdigit() else None
    return {"address": parts[0], "cidr": cidr, "interface": interface}


def hb_ip_resources(groups, variable: str = "heartbeat_resource_groups") -> list:
    """Every IPaddr/IPaddr2 resource of the groups: {variable, node, type, address, cidr, interface}.

    Dict and word forms are both understood; words are split by heartbeat_config's parser.
    """
    found = []
    for i, group in enumerate(resource_groups(groups, variable)):
        for j, word in enumerate(group.get("resources") or []):
            where = f"{variable}[{i}].resources[{j}]"
            resource = parse_resource_word(group.get("node"), word, where)
            if resource.name in IP_RESOURCE_TYPES:
                found.append(
                    {"variable": where, "node": group.get("node"), "type": resource.name}
                    | _ipaddr_parts(resource.args[0])
                )
    return found


def hb_media_interfaces(media, variable: str = "heartbeat_media") -> list:
    """Every interface the media use: [{variable, interface}] (bcast lists, ucast/mcast devices)."""
    found = []
    for i, medium in enumerate(media or []):
        if not isinstance(medium, dict):
            continue  # the ha.cf renderer reports malformed media
        where = f"{variable}[{i}]"
        if isinstance(medium.get("interfaces"), (list, tuple)):
            found += [
                {"variable": f"{where}.interfaces[{j}]", "interface": str(name)}
                for j, name in enumerate(medium["interfaces"])
            ]
        elif medium.get("interface") is not None:
            found.append({"variable": f"{where}.interface", "interface": str(medium["interface"])})
    return found


def hb_interface_networks(facts: dict, interface: str | None = None) -> list:
    """IPv4 networks ("10.0.0.0/24") on `interface` (None: on any interface), from ansible_facts."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError("hb_interface_networks: expects ansible_facts (a mapping)")
    networks = []
    for value in facts.values():
        # interface facts are found by their device name: the fact key mangles '-' and '.'
        if not isinstance(value, dict) or not value.get("device"):
            continue
        if interface is not None and value["device"] != interface:
            continue
        addresses = [value.get("ipv4")] if isinstance(value.get("ipv4"), dict) else []
        addresses += [a for a in value.get("ipv4_secondaries") or [] if isinstance(a, dict)]
        for entry in addresses:
            if entry.get("address") and entry.get("netmask"):
                net = str(ipaddress.IPv4Interface(f"{entry['address']}/{entry['netmask']}").network)
                if net not in networks:  # a VIP is a secondary address of the same network
                    networks.append(net)
    return networks


def hb_in_networks(address: str, networks: list) -> bool:
    """Whether an IPv4 address lies in one of the networks."""
    try:
        ip = ipaddress.IPv4Address(str(address))
    except ValueError:
        return False
    return any(ip in ipaddress.IPv4Network(str(n), strict=False) for n in networks)


class FilterModule:
    def filters(self):
        return {
            "ha_cf": ha_cf,
            "haresources": haresources,
            "authkeys": authkeys,
            "hb_agent_conf": hb_agent_conf,
            "hb_msec": hb_msec,
            "hb_safety_warnings": hb_safety_warnings,
            "hb_resource_word": hb_resource_word,
            "hb_resource_groups": resource_groups,
            "hb_ip_resources": hb_ip_resources,
            "hb_media_interfaces": hb_media_interfaces,
            "hb_interface_networks": hb_interface_networks,
            "hb_in_networks": hb_in_networks,
        }
