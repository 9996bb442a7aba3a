#!/usr/bin/python
# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: report a Heartbeat node's view of its cluster (read only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: heartbeat_info
short_description: Report what a Heartbeat (or hbagent) node sees of its cluster
version_added: 0.1.0
description:
  - Reads C(/etc/ha.d) with the collection's own parser, asks the local daemon through C(cl_status)
    (Debian's C(heartbeat)) or C(hbagent cl-status) (the Python agent), and looks at the node's
    addresses to tell which resource groups this node really holds.
  - Never changes anything; safe in check mode.
options:
  config_dir:
    description: Directory holding C(ha.cf), C(haresources) and C(authkeys).
    type: path
    default: /etc/ha.d
extends_documentation_fragment:
  - hakit.heartbeat.engine
  - ansible.builtin.action_common_attributes
author:
  - hakit.heartbeat contributors
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Who holds the VIP, as each node sees it
  hakit.heartbeat.heartbeat_info:
  register: __hb

- name: Show the local node's view of its peer
  ansible.builtin.debug:
    msg: "{{ __hb.nodes['web2'].status }} / resources here: {{ __hb.rscstatus }}"
"""

RETURN = r"""
running:
  description: Whether the local heartbeat daemon answers.
  type: bool
  returned: always
engine:
  description: The daemon that was asked (C(heartbeat) or C(agent)).
  type: str
  returned: always
local_node:
  description: This node's name, as Heartbeat derives it (C(uname -n), lower-cased).
  type: str
  returned: always
nodes:
  description: Every node of ha.cf with its status and links as the local daemon sees them.
  type: dict
  returned: always
  sample: {"web1": {"status": "active", "type": "normal", "links": {"eth0": "up"}}}
rscstatus:
  description: C(none), C(local), C(foreign), C(all) or C(transition); null when the daemon is down.
  type: str
  returned: always
groups:
  description: Resource groups of haresources, with the addresses this node holds right now.
  type: list
  elements: dict
  returned: always
  sample: [{"node": "web1", "key": "IPaddr::10.0.0.50/24/eth0", "addresses": ["10.0.0.50"], "held_here": true}]
config:
  description: The parsed ha.cf timings and options (seconds are given in ms).
  type: dict
  returned: always
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hakit.heartbeat.plugins.module_utils.heartbeat_config import (
    ConfigError,
    ConfigErrors,
    load_config,
)
from ansible_collections.hakit.heartbeat.plugins.module_utils.heartbeat_engine import (
    ENGINE_ARGUMENT_SPEC,
    resolve_engine,
)

NODE_STATUSES = ("active", "up", "init", "dead", "ping")


def _ipaddr_of(resource):
    """The IPv4 address an IPaddr/IPaddr2 resource manages, else None."""
    if resource.name not in ("IPaddr", "IPaddr2") or not resource.args:
        return None
    return resource.args[0].split("/", 1)[0]


class StatusClient:
    """Runs cl_status (or its hbagent twin) and keeps only the first output line."""

    def __init__(self, module, argv_prefix):
        self.module = module
        self.argv_prefix = argv_prefix

    def ask(self, *args):
        rc, out, _err = self.module.run_command([*self.argv_prefix, *args])
        return rc, out.strip()


def _local_addresses(module):
    rc, out, err = module.run_command(["ip", "-o", "-4", "addr", "show"])
    if rc != 0:
        module.fail_json(msg=f"ip addr failed: {err.strip()}")
    # "2: eth0    inet 10.0.0.11/24 brd ... scope global eth0" -> 10.0.0.11
    return {fields[3].split("/")[0] for fields in (line.split() for line in out.splitlines()) if len(fields) > 3}


def gather(module):
    try:
        cluster = load_config(module.params["config_dir"])
    except (ConfigError, ConfigErrors) as exc:
        module.fail_json(msg=f"invalid Heartbeat configuration: {exc}")
    engine, prefix, _tools = resolve_engine(module)
    client = StatusClient(module, prefix)
    hb_rc, _ = client.ask("hbstatus")
    running = hb_rc == 0

    nodes = {}
    for name in cluster.ha_cf.nodes:
        entry = {"status": "dead" if not running else None, "type": None, "links": {}}
        if running:
            _rc, out = client.ask("nodestatus", name)
            entry["status"] = out if out in NODE_STATUSES else None
            entry["type"] = client.ask("nodetype", name)[1] or None
            _rc, links = client.ask("listhblinks", name)
            for link in links.split():
                entry["links"][link] = client.ask("hblinkstatus", name, link)[1] or None
        nodes[name] = entry

    rscstatus = (client.ask("rscstatus")[1] or None) if running else None
    here = _local_addresses(module)
    groups = []
    for group in cluster.resources:
        addresses = [ip for ip in (_ipaddr_of(r) for r in group.resources) if ip]
        groups.append(
            {
                "node": group.node,
                "key": group.key,
                "resources": [r.word for r in group.resources],
                "addresses": addresses,
                "held_here": bool(addresses) and all(ip in here for ip in addresses),
            }
        )
    ha_cf = cluster.ha_cf
    config = {
        "nodes": list(ha_cf.nodes),
        "keepalive_ms": ha_cf.keepalive_ms,
        "warntime_ms": ha_cf.warntime_ms,
        "deadtime_ms": ha_cf.deadtime_ms,
        "initdead_ms": ha_cf.initdead_ms,
        "udpport": ha_cf.udpport,
        "auto_failback": ha_cf.auto_failback,
        "media": [{"kind": m.kind, "dev": m.dev, "address": m.address} for m in ha_cf.media],
    }
    return {
        "changed": False,
        "running": running,
        "engine": engine,
        "local_node": os.uname().nodename.lower(),
        "nodes": nodes,
        "rscstatus": rscstatus,
        "groups": groups,
        "config": config,
    }


def main():
    module = AnsibleModule(
        argument_spec={
            "config_dir": {"type": "path", "default": "/etc/ha.d"},
            **ENGINE_ARGUMENT_SPEC,
        },
        supports_check_mode=True,
    )
    module.exit_json(**gather(module))


if __name__ == "__main__":
    main()
