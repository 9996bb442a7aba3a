# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the modules that talk to the local Heartbeat daemon or hbagent."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  engine:
    description:
      - Which daemon to talk to. C(heartbeat) is Debian's C(heartbeat) (C(cl_status), C(hb_standby),
        C(hb_takeover)); C(agent) is hbagent. C(auto) uses Heartbeat's tools when installed, else the agent.
    type: str
    choices: [auto, heartbeat, agent]
    default: auto
  agent_path:
    description: Path of the hbagent zipapp, used when I(engine=agent).
    type: path
    default: /usr/local/lib/hakit/hbagent.pyz
"""
