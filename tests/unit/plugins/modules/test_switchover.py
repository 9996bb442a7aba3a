"""switchover against a fake node: moves, idempotence, check mode, and every way a move can fail."""

from __future__ import annotations

from ansible_collections.hakit.heartbeat.plugins.modules import switchover

RESULT_KEYS = {"changed", "engine", "before", "after", "commands", "elapsed"}


def test_hold_is_required_so_a_bare_task_moves_nothing(any_node):
    outcome, result = any_node.run(switchover)
    assert outcome == "fail"
    assert "missing required arguments: hold" in result["msg"]
    assert not any_node.commands


def test_taking_everything_over_runs_the_engines_takeover_and_waits_for_all(any_node):
    any_node.rsc = ["none"]
    outcome, result = any_node.run(switchover, hold="all")
    assert outcome == "exit", result
    assert set(result) >= RESULT_KEYS
    takeover = " ".join(any_node.tool_prefix("takeover"))
    assert result["commands"] == [f"{takeover} all"]
    assert any_node.ran("takeover") == [f"{takeover} all"]
    assert (result["engine"], result["before"], result["after"], result["changed"]) == (
        any_node.engine,
        "none",
        "all",
        True,
    )
    assert result["elapsed"] >= 2 * switchover.POLL_S  # two polls in transition on the fake clock
    assert result["diff"] == {"before": "rscstatus: none\n", "after": "rscstatus: all\n"}


def test_giving_back_the_peers_groups_from_foreign_takes_two_steps(any_node):
    any_node.rsc = ["foreign"]
    outcome, result = any_node.run(switchover, hold="local")
    assert outcome == "exit", result
    assert [c.rsplit(" ", 2)[-2:] for c in result["commands"]] == [
        [any_node.tool_prefix("takeover")[-1], "local"],
        [any_node.tool_prefix("standby")[-1], "foreign"],
    ]
    assert result["after"] == "local"


def test_standby_hands_everything_to_the_peer(any_node):
    any_node.rsc = ["all"]
    outcome, result = any_node.run(switchover, hold="none")
    assert outcome == "exit", result
    assert result["commands"] == [" ".join([*any_node.tool_prefix("standby"), "all"])]
    assert result["after"] == "none"


def test_asking_for_what_the_node_already_holds_runs_nothing(any_node):
    any_node.rsc = ["local"]
    outcome, result = any_node.run(switchover, hold="local")
    assert outcome == "exit", result
    assert (result["changed"], result["commands"], result["before"], result["after"]) == (
        False,
        [],
        "local",
        "local",
    )
    assert not any_node.ran("standby") and not any_node.ran("takeover")


def test_check_mode_predicts_the_commands_and_runs_none(any_node):
    any_node.rsc = ["none"]
    outcome, result = any_node.run(switchover, check_mode=True, hold="all")
    assert outcome == "exit", result
    assert result["changed"] is True
    assert result["commands"] == [" ".join([*any_node.tool_prefix("takeover"), "all"])]
    assert result["after"] == "none"
    assert not any_node.ran("takeover")


def test_resources_in_transition_are_waited_for_before_planning(any_node):
    any_node.rsc = ["transition", "transition", "foreign"]
    outcome, result = any_node.run(switchover, hold="all")
    assert outcome == "exit", result
    assert result["before"] == "foreign"
    assert result["commands"] == [" ".join([*any_node.tool_prefix("takeover"), "local"])]


def test_resources_stuck_in_transition_fail_without_moving(any_node):
    any_node.rsc = ["transition"]
    outcome, result = any_node.run(switchover, hold="all", timeout=5)
    assert outcome == "fail"
    assert "stayed in transition for 5s" in result["msg"]
    assert not any_node.ran("takeover")


def test_a_daemon_that_is_down_fails_and_moves_nothing(any_node):
    any_node.running = False
    outcome, result = any_node.run(switchover, hold="all")
    assert outcome == "fail"
    assert f"the {any_node.engine} daemon is not running" in result["msg"]
    assert result["engine"] == any_node.engine
    assert not any_node.ran("takeover")


def test_a_dead_peer_still_lets_this_node_take_everything_over(any_node):
    any_node.nodes["web2"] = "dead"
    any_node.rsc = ["local"]
    outcome, result = any_node.run(switchover, hold="all")
    assert outcome == "exit", result
    assert result["after"] == "all"


def test_an_unknown_rscstatus_fails_naming_it_and_is_never_success(any_node):
    any_node.rsc = ["half"]
    outcome, result = any_node.run(switchover, hold="all")
    assert outcome == "fail"
    assert "rscstatus answered 'half'" in result["msg"]
    assert "none, local, foreign, all, transition" in result["msg"]
    assert not any_node.ran("takeover")


def test_an_unknown_rscstatus_after_the_move_fails_naming_it(any_node):
    any_node.rsc = ["none"]
    any_node.move_steps = 0
    takeover = any_node.tool_prefix("takeover")
    # the move itself succeeds, then the daemon answers something that is not a state
    original = any_node._move

    def move_then_garble(tool, which):
        answer = original(tool, which)
        any_node.rsc = ["???"]
        return answer

    any_node._move = move_then_garble
    outcome, result = any_node.run(switchover, hold="all")
    assert outcome == "fail"
    assert "rscstatus answered '???'" in result["msg"]
    assert result["commands"] == [" ".join([*takeover, "all"])]
    assert result["changed"] is True


def test_a_refused_move_fails_with_the_tools_message(any_node):
    any_node.rsc = ["none"]
    any_node.moves_refused = True
    outcome, result = any_node.run(switchover, hold="all")
    assert outcome == "fail"
    assert "failed (rc 1)" in result["msg"] and "refused" in result["msg"]


def test_a_move_that_never_completes_fails_after_the_timeout(any_node):
    any_node.rsc = ["none"]
    any_node.move_steps = 1000
    outcome, result = any_node.run(switchover, hold="all", timeout=3)
    assert outcome == "fail"
    assert "did not reach 'all' within 3s (rscstatus: transition)" in result["msg"]
    assert result["after"] == "transition"


def test_a_negative_timeout_is_refused(any_node):
    outcome, result = any_node.run(switchover, hold="all", timeout=-1)
    assert outcome == "fail"
    assert "timeout must be 0 or more" in result["msg"]
    assert not any_node.commands


def test_engine_auto_on_an_agent_node_uses_the_agent_even_with_cl_status_wrappers(node):
    node.install_agent()
    node.rsc = ["none"]
    outcome, result = node.run(switchover, hold="all")
    assert outcome == "exit", result
    assert result["engine"] == "agent"
    assert node.ran("takeover") == [f"/usr/bin/python3 {node.agent_path} takeover all"]
    assert not node.ran("/usr/bin/cl_status")
