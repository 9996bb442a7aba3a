"""A fake cluster node for the module tests: real files in a temporary directory, a fake clock, and a
fake local daemon that answers cl_status' sub-commands and moves resources the way Heartbeat does.

Every command a module runs goes through FakeNode.run_command; a command the fake does not know fails
the test, so a module that shells out to something unexpected cannot pass.
"""

from __future__ import annotations

import contextlib
import json
import stat
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible_collections.hakit.heartbeat.plugins.module_utils import heartbeat_engine

try:  # ansible-core 2.19+
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # 2.17, 2.18: AnsibleModule reads basic._ANSIBLE_ARGS

    @contextlib.contextmanager
    def patch_module_args(args):
        payload = {
            "ANSIBLE_MODULE_ARGS": {
                "_ansible_remote_tmp": "/tmp",
                "_ansible_keep_remote_files": False,
                **args,
            }
        }
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps(payload).encode()):
            yield


HA_CF = "keepalive 2\ndeadtime 10\nudpport 694\nbcast eth0\nauto_failback on\nnode web1\nnode web2\n"
HARESOURCES = "web1 IPaddr::10.0.0.50/24/eth0 apache2\n"
AUTHKEYS = "auth 1\n1 sha1 s3cret\n"
VIP = "10.0.0.50"
BITS = {"none": 0, "local": 1, "foreign": 2, "all": 3}
WHICH = {"all": 3, "local": 1, "foreign": 2}


class ModuleExit(Exception):
    """exit_json was called; .result is what the module returned."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


class ModuleFail(ModuleExit):
    """fail_json was called."""


class FakeClock:
    """time.monotonic/time.sleep for the modules: sleeping advances the clock at once."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeNode:
    """One node: its engine's files, its daemon's state, and the commands the module ran."""

    def __init__(self, tmp_path, monkeypatch):
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        self.config_dir = tmp_path / "ha.d"
        self.config_dir.mkdir()
        for name, text in (("ha.cf", HA_CF), ("haresources", HARESOURCES), ("authkeys", AUTHKEYS)):
            (self.config_dir / name).write_text(text)
        (self.config_dir / "authkeys").chmod(0o600)
        self.agent_path = tmp_path / "hbagent.pyz"
        self.socket = tmp_path / "hbagent.sock"
        self.heartbeat_daemon = tmp_path / "libexec" / "heartbeat"
        self.tool_dir = tmp_path / "share-heartbeat"
        monkeypatch.setattr(heartbeat_engine, "HEARTBEAT_DAEMONS", (str(self.heartbeat_daemon),))
        monkeypatch.setattr(heartbeat_engine, "HEARTBEAT_TOOL_DIRS", (str(self.tool_dir),))
        monkeypatch.setattr(heartbeat_engine, "AGENT_SOCKET", str(self.socket))
        self.bins = {"ip": "/usr/sbin/ip", "python3": "/usr/bin/python3", "systemctl": "/usr/bin/systemctl"}
        self.clock = FakeClock()
        # daemon state
        self.engine = None
        self.running = True
        self.unit_state = "inactive"  # what `systemctl is-active hbagent.service` says
        self.nodes = {"web1": "active", "web2": "active"}
        self.links = {"web1": {"eth0": "up"}, "web2": {"eth0": "up"}}
        self.rsc = ["local"]  # answers of rscstatus, in order; the last one repeats
        self.moves_refused = False
        self.move_steps = 2  # polls a move stays in transition
        self.addresses = ["10.0.0.11"]
        self.ip_rc = 0
        self.commands = []
        self.answers = {}  # argv tuple -> (rc, out, err), overrides the fake daemon

    # -- engines ----------------------------------------------------------------------------------
    def install_heartbeat(self):
        self.engine = "heartbeat"
        self._executable(self.heartbeat_daemon)
        for tool in ("hb_standby", "hb_takeover"):
            self._executable(self.tool_dir / tool)
        self.bins["cl_status"] = "/usr/bin/cl_status"
        return self

    def install_agent(self, running=True):
        """hbagent: the zipapp (and, as the lead's role installs them, cl_status/hb_* wrappers)."""
        self.engine = "agent"
        self.agent_path.write_text("zipapp")
        self.running = running
        if running:
            self.socket.write_text("")
        self.bins["cl_status"] = "/usr/bin/cl_status"  # the agent's wrapper: must not decide the engine
        return self

    def _executable(self, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def status_prefix(self):
        if self.engine == "heartbeat":
            return ["/usr/bin/cl_status"]
        return ["/usr/bin/python3", str(self.agent_path), "cl-status"]

    def tool_prefix(self, tool):
        if self.engine == "heartbeat":
            return [str(self.tool_dir / f"hb_{tool}")]
        return ["/usr/bin/python3", str(self.agent_path), tool]

    # -- what the module calls ---------------------------------------------------------------------
    def get_bin_path(self, module, name, required=False, opt_dirs=None):
        path = self.bins.get(name)
        if path is None and required:
            module.fail_json(msg=f"Failed to find required executable {name!r} in paths")
        return path

    def run_command(self, module, args, **kwargs):
        argv = [str(a) for a in args]
        self.commands.append(argv)
        if tuple(argv) in self.answers:
            return self.answers[tuple(argv)]
        if argv == ["/usr/sbin/ip", "-o", "-4", "addr", "show"]:
            if self.ip_rc:
                return self.ip_rc, "", "Cannot open netlink socket"
            lines = [f"2: eth0    inet {a}/24 brd 10.0.0.255 scope global eth0" for a in self.addresses]
            return 0, "\n".join(lines) + "\n", ""
        if argv == ["/usr/bin/systemctl", "is-active", "hbagent.service"]:
            return (0 if self.unit_state == "active" else 3), self.unit_state + "\n", ""
        if self.engine and argv[: len(self.status_prefix())] == self.status_prefix():
            return self._cl_status(argv[len(self.status_prefix()) :])
        for tool in ("standby", "takeover"):
            if self.engine and argv[:-1] == self.tool_prefix(tool):
                return self._move(tool, argv[-1])
        raise AssertionError(f"the module ran a command the fake node does not know: {argv}")

    def _cl_status(self, args):
        sub, params = args[0], args[1:]
        if sub == "hbstatus":
            if self.running:
                return 0, "Heartbeat is running on this machine.\n", ""
            return 1, "Heartbeat is stopped on this machine.\n", ""
        if not self.running:
            return 1, "", "Cannot signon with heartbeat\n"
        if sub in ("nodestatus", "nodetype", "listhblinks", "hblinkstatus") and params[0] not in self.nodes:
            return 11, "", "Error. May be due to incorrect node name\n"
        if sub == "nodestatus":
            status = self.nodes[params[0]]
            return (0 if status in ("active", "up", "ping") else 1), status + "\n", ""
        if sub == "nodetype":
            return 0, "normal\n", ""
        if sub == "listhblinks":
            return 0, "".join(f"\t{link}\n" for link in self.links[params[0]]), ""
        if sub == "hblinkstatus":
            status = self.links[params[0]][params[1]]
            return (0 if status == "up" else 1), status + "\n", ""
        if sub == "rscstatus":
            answer = self.rsc.pop(0) if len(self.rsc) > 1 else self.rsc[0]
            return 0, answer + "\n", ""
        raise AssertionError(f"unexpected cl_status sub-command {args}")

    def _move(self, tool, which):
        if self.moves_refused:
            return 1, "", f"{tool} {which}: refused\n"
        held = BITS[self.rsc[-1]]
        held = held | WHICH[which] if tool == "takeover" else held & ~WHICH[which]
        state = next(name for name, bits in BITS.items() if bits == held)
        self.rsc = [*self.rsc[:-1], *["transition"] * self.move_steps, state]
        return 0, "", ""

    def ran(self, *words):
        """The commands run (as strings) that contain every one of `words`."""
        return [line for line in (" ".join(argv) for argv in self.commands) if all(w in line for w in words)]

    # -- running a module --------------------------------------------------------------------------
    def run(self, module, check_mode=False, **params):
        """Run `module.main()` with these params; return ('exit' | 'fail', result)."""
        args = {"config_dir": str(self.config_dir), "agent_path": str(self.agent_path), **params}
        if module.__name__.endswith("switchover"):
            args.pop("config_dir")
            self.monkeypatch.setattr(module, "time", self.clock)
        if check_mode:
            args["_ansible_check_mode"] = True
        node = self

        def exit_json(self, **result):
            raise ModuleExit(result)

        def fail_json(self, msg, **result):
            raise ModuleFail({"msg": msg, **result})

        with (
            patch_module_args(args),
            mock.patch.object(basic.AnsibleModule, "exit_json", exit_json),
            mock.patch.object(basic.AnsibleModule, "fail_json", fail_json),
            mock.patch.object(basic.AnsibleModule, "run_command", node.run_command_method()),
            mock.patch.object(basic.AnsibleModule, "get_bin_path", node.get_bin_path_method()),
        ):
            try:
                module.main()
            except ModuleFail as done:
                return "fail", done.result
            except ModuleExit as done:
                return "exit", done.result
        raise AssertionError("the module returned without exit_json or fail_json")

    def run_command_method(self):
        node = self

        def run_command(self, args, **kwargs):
            return node.run_command(self, args, **kwargs)

        return run_command

    def get_bin_path_method(self):
        node = self

        def get_bin_path(self, arg, required=False, opt_dirs=None):
            return node.get_bin_path(self, arg, required, opt_dirs)

        return get_bin_path


@pytest.fixture
def node(tmp_path, monkeypatch):
    return FakeNode(tmp_path, monkeypatch)


@pytest.fixture(params=["heartbeat", "agent"])
def any_node(request, node):
    """The same node with either engine installed: the modules must behave alike."""
    return node.install_heartbeat() if request.param == "heartbeat" else node.install_agent()
