#!/usr/bin/python
# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: report a Heartbeat node's view of its cluster (read only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: heartbeat_info
short_description: Report what a Heartbeat, hbagent or Pacemaker node sees of its cluster
version_added: 0.1.0
description:
  - Reads C(ha.cf), C(haresources) and C(authkeys) in O(config_dir) with the collection's own parser.
  - Asks the local cluster daemon what it sees of every node of C(ha.cf) and what this node holds, with
    C(cl_status) (Debian's C(heartbeat) package) or C(hbagent cl-status) (the Python agent); see O(engine).
  - With O(engine=pacemaker) there is no C(ha.cf), the cluster is the CIB (C(cibadmin --query --scope configuration),
    or C(/var/lib/pacemaker/cib/cib.xml) while Pacemaker is stopped) and the nodes are those of
    C(crm_mon --output-as=xml). Node status - online V(active), online in standby or maintenance V(up), pending
    (joining) V(init), offline or unclean V(dead); links - the knet links of C(corosync-cfgtool -s)
    (V(link0), ...), V({}) without it. Each Pacemaker group is a group (RV(groups[].key) its id, RV(groups[].node)
    the node of its highest location score).
  - Looks at the node's IPv4 addresses (C(ip -o -4 addr show)) to tell which resource groups this node
    really holds.
  - Returns the same keys for every engine. When the daemon is down, RV(running) is V(false) and the
    daemon's answers (the C(status) of each of RV(nodes), RV(rscstatus)) are V(null); the configuration and addresses are
    still reported.
  - Fails, naming the command and its answer, when the daemon answers something that is not a known state.
options:
  config_dir:
    description: Directory holding C(ha.cf), C(haresources) and C(authkeys). Unused with O(engine=pacemaker).
    type: path
    default: /etc/ha.d
extends_documentation_fragment:
  - hakit.heartbeat.engine
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module never changes anything.
  diff_mode:
    support: N/A
    details: The module never changes anything.
  platform:
    support: full
    platforms: posix
requirements:
  - Python 3.11 or later on the node (Debian 12 and 13 have it).
  - C(ip) (iproute2) on the node.
seealso:
  - module: hakit.heartbeat.switchover
author:
  - hakit.heartbeat maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read the node's view of its cluster
  hakit.heartbeat.heartbeat_info:
  register: cluster

- name: Show whether the peer is alive and what this node holds
  ansible.builtin.debug:
    msg: "web2 is {{ cluster.nodes['web2'].status }}; this node holds {{ cluster.rscstatus }} resources"

- name: Wait until both nodes are active and nothing is moving
  hakit.heartbeat.heartbeat_info:
  register: cluster
  until: >-
    cluster.running and cluster.rscstatus != 'transition'
    and cluster.nodes | dict2items | map(attribute='value.status') | unique == ['active']
  retries: 30
  delay: 2

- name: Ask hbagent even where the Heartbeat package is installed too
  hakit.heartbeat.heartbeat_info:
    engine: agent
"""

RETURN = r"""
running:
  description: Whether the local cluster daemon answers.
  type: bool
  returned: always
  sample: true
engine:
  description:
    - The daemon that was asked, V(heartbeat) (Debian's package), V(agent) (hbagent) or V(pacemaker).
    - With O(engine=auto), the one found on the node.
  type: str
  returned: always
  sample: heartbeat
local_node:
  description: This node's name as Heartbeat derives it (C(uname -n), lower-cased).
  type: str
  returned: always
  sample: web1
nodes:
  description: Every node of C(ha.cf) (Pacemaker - of C(crm_mon)), by name, as the local daemon sees it.
  type: dict
  returned: always
  sample: {"web1": {"status": "active", "type": "normal", "links": {"eth0": "up"}}}
  contains:
    status:
      description:
        - V(active), V(up), V(init), V(dead) or V(ping).
        - V(null) when the local daemon is down.
      type: str
      sample: active
    type:
      description: V(normal), V(ping) or V(unknown); V(null) when the local daemon is down.
      type: str
      sample: normal
    links:
      description:
        - Each heartbeat link (medium interface) to that node and its status, V(up) or V(dead).
        - Pacemaker - each Corosync knet link (V(link0), V(link1)...) from C(corosync-cfgtool -s), this node's own
          links V(up); V({}) when C(corosync-cfgtool) is missing.
      type: dict
      sample: {"eth0": "up"}
rscstatus:
  description:
    - What this node holds. V(none), V(local) (the groups whose preferred node it is), V(foreign) (the peer's
      groups), V(all), or V(transition) while resources move.
    - Pacemaker - V(local) when this node runs any group it is preferred for, V(foreign) any other group, V(all)
      both; V(transition) while a member starts or stops, a group is split over nodes, or the DC is not
      C(S_IDLE). A node preferred for no group holding nothing is V(none) (Heartbeat says V(local)).
    - V(null) when the local daemon is down.
  type: str
  returned: always
  sample: local
groups:
  description: The resource groups of C(haresources), in file order (Pacemaker - the CIB's groups, in CIB order).
  type: list
  elements: dict
  returned: always
  contains:
    node:
      description:
        - The group's preferred node (first word of its C(haresources) line).
        - Pacemaker - the node of the group's highest positive C(rsc_location) score (C(cli-*) move constraints
          left out); V(null) without one.
      type: str
      sample: web1
    key:
      description: The group's first resource, which Heartbeat uses as its name (Pacemaker - the group's id).
      type: str
      sample: IPaddr::10.0.0.50/24/eth0
    resources:
      description:
        - Every resource of the group, as written in C(haresources).
        - Pacemaker - the same words made from the primitives - C(IPaddr2::ip/cidr/nic), the unit of a
          C(systemd:)/C(lsb:)/C(service:) resource, else C(Type::name=value::...) (its instance attributes).
      type: list
      elements: str
      sample: ["IPaddr::10.0.0.50/24/eth0", "apache2"]
    addresses:
      description: The IPv4 addresses of the group's C(IPaddr) and C(IPaddr2) resources.
      type: list
      elements: str
      sample: ["10.0.0.50"]
    held_here:
      description: Whether this node has every one of RV(groups[].addresses) (false for a group without any).
      type: bool
      sample: true
config:
  description:
    - The parsed C(ha.cf) settings that matter for failover (times in milliseconds).
    - Pacemaker - RV(config.deadtime_ms) is the totem token, RV(config.keepalive_ms) the token retransmit
      interval and RV(config.warntime_ms) the token warning (C(corosync-cmapctl runtime.config.totem.)), V(null)
      while Pacemaker is stopped; RV(config.auto_failback) is V(on) for a C(resource-stickiness) of 0 (or
      none), else V(off); RV(config.initdead_ms) and RV(config.udpport) are V(null), RV(config.media) V([]).
  type: dict
  returned: always
  contains:
    nodes:
      description: The nodes, in C(ha.cf) order.
      type: list
      elements: str
      sample: ["web1", "web2"]
    keepalive_ms:
      description: Interval between heartbeats.
      type: int
      sample: 2000
    warntime_ms:
      description: Delay after which a late heartbeat is logged.
      type: int
      sample: 5000
    deadtime_ms:
      description: Silence after which a node is declared dead.
      type: int
      sample: 10000
    initdead_ms:
      description: Deadtime right after the daemon starts.
      type: int
      sample: 20000
    udpport:
      description: UDP port of the bcast and ucast media.
      type: int
      sample: 694
    auto_failback:
      description: V(on), V(off) or V(legacy).
      type: str
      sample: "on"
    media:
      description: The heartbeat media.
      type: list
      elements: dict
      sample: [{"kind": "bcast", "dev": "eth0", "address": null}]
      contains:
        kind:
          description: V(bcast), V(mcast) or V(ucast).
          type: str
        dev:
          description: The interface.
          type: str
        address:
          description: The multicast group or unicast peer; V(null) for bcast.
          type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hakit.heartbeat.plugins.module_utils.heartbeat_engine import (
    ENGINE_ARGUMENT_SPEC,
    EngineError,
    resolve_engine,
)


def local_addresses(module):
    """The node's IPv4 addresses, from `ip -o -4 addr show`."""
    ip = module.get_bin_path("ip", required=True)
    rc, out, err = module.run_command([ip, "-o", "-4", "addr", "show"])
    if rc != 0:
        module.fail_json(msg=f"{ip} -o -4 addr show failed (rc {rc}): {err.strip()}")
    # "2: eth0    inet 10.0.0.11/24 brd ... scope global eth0" -> 10.0.0.11
    return {
        fields[3].split("/")[0] for fields in (line.split() for line in out.splitlines()) if len(fields) > 3
    }


def gather(module):
    try:
        engine = resolve_engine(module)
        running = engine.running()
        cluster = engine.cluster(module.params["config_dir"])
        if running:
            nodes = {name: engine.node_view(name) for name in cluster["nodes"]}
            rscstatus = engine.rscstatus()
        else:
            nodes = {name: {"status": None, "type": None, "links": {}} for name in cluster["nodes"]}
            rscstatus = None
    except EngineError as exc:
        module.fail_json(msg=str(exc))

    here = local_addresses(module)
    groups = [
        {**group, "held_here": bool(group["addresses"]) and all(ip in here for ip in group["addresses"])}
        for group in cluster["groups"]
    ]
    return {
        "changed": False,
        "running": running,
        "engine": engine.name,
        "local_node": os.uname().nodename.lower(),
        "nodes": nodes,
        "rscstatus": rscstatus,
        "groups": groups,
        "config": cluster["config"],
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
