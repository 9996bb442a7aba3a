# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which local daemon a module talks to, and the commands that reach it (cl_status or hbagent)."""

from __future__ import annotations

import os
import shutil

ENGINE_ARGUMENT_SPEC = {
    "engine": {"type": "str", "default": "auto", "choices": ["auto", "heartbeat", "agent"]},
    "agent_path": {"type": "path", "default": "/usr/local/lib/hakit/hbagent.pyz"},
}
# Debian installs hb_standby/hb_takeover in /usr/share/heartbeat; other builds use the others.
HEARTBEAT_TOOL_DIRS = ("/usr/share/heartbeat", "/usr/lib/heartbeat", "/usr/libexec/heartbeat")


def _heartbeat_tool(name):
    for directory in HEARTBEAT_TOOL_DIRS:
        path = os.path.join(directory, f"hb_{name}")
        if os.access(path, os.X_OK):
            return [path]
    return None


def resolve_engine(module):
    """Return (engine, status_cmd, tools): status_cmd prefixes a cl_status sub-command, tools maps
    'standby'/'takeover' to a command prefix. Fails the module with the option to fix when absent."""
    engine = module.params["engine"]
    cl_status = shutil.which("cl_status")
    if engine == "auto":
        engine = "heartbeat" if cl_status else "agent"
    if engine == "heartbeat":
        tools = {name: _heartbeat_tool(name) for name in ("standby", "takeover")}
        if not cl_status or None in tools.values():
            module.fail_json(msg="engine=heartbeat but cl_status/hb_standby/hb_takeover are not installed "
                                 "(Debian package heartbeat)")
        return engine, [cl_status], tools
    agent_path = module.params["agent_path"]
    if not os.path.exists(agent_path):
        module.fail_json(msg=f"engine=agent but the agent is not installed at agent_path={agent_path}")
    agent = [module.get_bin_path("python3", required=True), agent_path]
    return engine, [*agent, "cl-status"], {"standby": [*agent, "standby"], "takeover": [*agent, "takeover"]}
