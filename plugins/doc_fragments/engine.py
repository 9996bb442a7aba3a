# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the modules that talk to the local Heartbeat daemon or hbagent."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  engine:
    description:
      - Which local cluster daemon to ask.
      - V(heartbeat) is Debian's C(heartbeat) package, asked with C(cl_status), C(hb_standby) and C(hb_takeover).
      - V(agent) is hbagent, asked with C(python3 <agent_path> cl-status), C(standby) and C(takeover); the
        Heartbeat package is not needed.
      - V(pacemaker) is Corosync 3 + Pacemaker 2.1, read with C(crm_mon --output-as=xml), C(cibadmin --query),
        C(crmadmin --status), C(corosync-cfgtool -s) and C(corosync-cmapctl), moved with C(crm_resource)
        (Debian packages C(pacemaker-cli-utils) and C(corosync)); the cluster is the CIB, O(agent_path) is unused.
      - V(auto) picks V(pacemaker) when C(systemctl is-active pacemaker.service) says so, else V(agent) when
        hbagent runs (its control socket C(/var/lib/hbagent/hbagent.sock) exists or
        C(systemctl is-active hbagent.service) says so), else V(heartbeat) when the Heartbeat daemon is
        installed (C(/usr/libexec/heartbeat/heartbeat)), else V(pacemaker) when C(/usr/sbin/pacemakerd) is
        installed, else V(agent) when O(agent_path) exists. A C(cl_status)
        on the path decides nothing, because agent nodes have C(cl_status) and C(hb_*) wrappers too.
      - The modules return the engine they used.
    type: str
    choices: [auto, heartbeat, agent, pacemaker]
    default: auto
  agent_path:
    description: Path of the hbagent zipapp on the node, used with O(engine=agent) and by O(engine=auto).
    type: path
    default: /usr/local/lib/hakit/hbagent.pyz
"""
