"""module_utils/heartbeat_engine: which engine a node runs, and the moves it plans."""

from __future__ import annotations

import pytest
from ansible_collections.hakit.heartbeat.plugins.module_utils import heartbeat_engine as he


class Module:
    """The slice of AnsibleModule the engines use, answered by the fake node."""

    def __init__(self, node, engine="auto"):
        self.node = node
        self.params = {"engine": engine, "agent_path": str(node.agent_path)}

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return self.node.get_bin_path(self, name, required, opt_dirs)

    def run_command(self, args, **kwargs):
        return self.node.run_command(self, args, **kwargs)

    def fail_json(self, msg, **kwargs):
        raise AssertionError(f"fail_json: {msg}")


def test_a_running_agent_wins_over_an_installed_heartbeat_package(node):
    node.install_heartbeat()
    node.install_agent(running=True)
    assert he.detect_engine(Module(node)) == ("agent", f"hbagent's control socket {node.socket} exists")


def test_systemd_saying_hbagent_is_active_is_enough_without_the_socket(node):
    node.install_heartbeat()
    node.install_agent(running=False)
    node.unit_state = "active"
    assert he.detect_engine(Module(node)) == ("agent", "hbagent.service is active")


def test_the_heartbeat_daemon_wins_over_the_agent_zipapp_installed_as_config_checker(node):
    node.install_agent(running=False)
    node.install_heartbeat()
    name, reason = he.detect_engine(Module(node))
    assert name == "heartbeat"
    assert str(node.heartbeat_daemon) in reason


def test_a_stopped_agent_without_heartbeat_is_still_the_agent(node):
    node.install_agent(running=False)
    assert he.detect_engine(Module(node)) == ("agent", f"the agent {node.agent_path} is installed")


def test_a_cl_status_on_the_path_alone_does_not_make_a_heartbeat_node(node):
    node.bins["cl_status"] = "/usr/bin/cl_status"  # e.g. the agent's wrapper, zipapp removed
    with pytest.raises(he.EngineError) as err:
        he.detect_engine(Module(node))
    message = str(err.value)
    assert "found no cluster daemon" in message
    assert str(node.socket) in message and str(node.heartbeat_daemon) in message
    assert str(node.agent_path) in message


def test_resolve_engine_gives_each_engine_its_own_commands(node):
    node.install_heartbeat()
    heartbeat = he.resolve_engine(Module(node, "heartbeat"))
    assert heartbeat.name == "heartbeat"
    assert heartbeat.status_argv() == ["/usr/bin/cl_status"]
    assert heartbeat.tool_argv("standby") == [str(node.tool_dir / "hb_standby")]
    node.install_agent()
    agent = he.resolve_engine(Module(node, "agent"))
    assert agent.status_argv() == ["/usr/bin/python3", str(node.agent_path), "cl-status"]
    assert agent.tool_argv("takeover") == ["/usr/bin/python3", str(node.agent_path), "takeover"]


def test_engine_heartbeat_without_its_tools_names_what_is_missing(node):
    node.install_heartbeat()
    (node.tool_dir / "hb_takeover").unlink()
    del node.bins["cl_status"]
    with pytest.raises(he.EngineError) as err:
        he.resolve_engine(Module(node, "heartbeat"))
    assert "cl_status, hb_takeover not found" in str(err.value)


def test_engine_agent_without_the_zipapp_names_agent_path(node):
    with pytest.raises(he.EngineError) as err:
        he.resolve_engine(Module(node, "agent"))
    assert f"agent_path={node.agent_path}" in str(err.value)


@pytest.mark.parametrize(
    ("before", "hold", "steps"),
    [
        ("none", "all", [["takeover", "all"]]),
        ("local", "all", [["takeover", "foreign"]]),
        ("foreign", "all", [["takeover", "local"]]),
        ("all", "none", [["standby", "all"]]),
        ("local", "none", [["standby", "local"]]),
        ("foreign", "none", [["standby", "foreign"]]),
        ("all", "local", [["standby", "foreign"]]),
        ("none", "local", [["takeover", "local"]]),
        ("foreign", "local", [["takeover", "local"], ["standby", "foreign"]]),
        ("all", "all", []),
        ("none", "none", []),
        ("local", "local", []),
    ],
)
def test_each_move_is_planned_with_hb_standby_and_hb_takeover(node, before, hold, steps):
    node.install_heartbeat()
    engine = he.resolve_engine(Module(node, "heartbeat"))
    planned = engine.move_commands(before, hold)
    assert planned == [[str(node.tool_dir / f"hb_{tool}"), which] for tool, which in steps]


def test_every_planned_move_reaches_its_target_on_the_fake_daemon(node):
    """The plan and hb_standby/hb_takeover's semantics agree, for every start and target."""
    node.install_heartbeat()
    engine = he.resolve_engine(Module(node, "heartbeat"))
    for before in ("none", "local", "foreign", "all"):
        for hold in he.HOLD_TARGETS:
            node.rsc = [before]
            for argv in engine.move_commands(before, hold):
                node.run_command(None, argv)
            assert node.rsc[-1] == hold, (before, hold)


def test_no_move_is_planned_from_transition(node):
    node.install_heartbeat()
    engine = he.resolve_engine(Module(node, "heartbeat"))
    with pytest.raises(he.EngineError) as err:
        engine.move_commands("transition", "all")
    assert "from rscstatus 'transition'" in str(err.value)
