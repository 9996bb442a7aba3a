# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local cluster daemon as the modules see it, whichever engine runs it.

An engine answers four questions the same way (is the daemon running, what does it see of a node, what
does this node hold, how does a planned move get there) so that heartbeat_info and switchover return the
same shape for every engine. Debian's Heartbeat and hbagent both speak cl_status, so one class carries
that protocol and each of them only says where its commands are; another engine (Pacemaker, say) is one
more Engine subclass and one more entry in ENGINES.

Nothing here calls fail_json: problems raise EngineError, whose message names what was seen.
"""

from __future__ import annotations

import os

ENGINE_ARGUMENT_SPEC = {
    "engine": {"type": "str", "default": "auto", "choices": ["auto", "heartbeat", "agent"]},
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


ENGINES = {"heartbeat": HeartbeatEngine, "agent": AgentEngine}
# engine=auto asks these in order; the first reason found decides.
DETECTION = ((AgentEngine, "running_signs"), (HeartbeatEngine, "installed"), (AgentEngine, "installed"))


def detect_engine(module):
    """(engine name, reason) for engine=auto.

    A running hbagent wins: the agent's nodes have cl_status/hb_* wrappers too, so those tools say nothing.
    Then the Heartbeat daemon binary (only the heartbeat package installs it), then an installed agent
    zipapp (every node has one as the config checker, so it only counts where Heartbeat is absent).
    """
    for engine, probe in DETECTION:
        reason = getattr(engine, probe)(module)
        if reason:
            return engine.name, reason
    raise EngineError(
        f"engine=auto found no cluster daemon: no hbagent running ({AGENT_SOCKET}, {AGENT_UNIT}), no Heartbeat "
        f"daemon ({', '.join(HEARTBEAT_DAEMONS)}), no agent at agent_path={module.params['agent_path']}"
    )


def resolve_engine(module):
    """The Engine for the module's `engine` option (detected for auto). Raises EngineError."""
    name = module.params["engine"]
    if name == "auto":
        name, _reason = detect_engine(module)
    if name not in ENGINES:
        raise EngineError(f"engine={name!r} is not one of: auto, {', '.join(ENGINES)}")
    return ENGINES[name](module)
