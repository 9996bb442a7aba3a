"""heartbeat_info against a fake node: what it reports for each engine, and what makes it fail."""

from __future__ import annotations

import os

from ansible_collections.hakit.heartbeat.plugins.modules import heartbeat_info

RESULT_KEYS = {"changed", "running", "engine", "local_node", "nodes", "rscstatus", "groups", "config"}


def test_a_healthy_cluster_is_reported_the_same_way_by_either_engine(any_node):
    any_node.addresses = ["10.0.0.11", "10.0.0.50"]
    outcome, result = any_node.run(heartbeat_info)
    assert outcome == "exit", result
    assert set(result) == RESULT_KEYS
    assert result["engine"] == any_node.engine
    assert result["running"] is True
    assert result["changed"] is False
    assert result["local_node"] == os.uname().nodename.lower()
    assert result["nodes"] == {
        "web1": {"status": "active", "type": "normal", "links": {"eth0": "up"}},
        "web2": {"status": "active", "type": "normal", "links": {"eth0": "up"}},
    }
    assert result["rscstatus"] == "local"
    assert result["groups"] == [
        {
            "node": "web1",
            "key": "IPaddr::10.0.0.50/24/eth0",
            "resources": ["IPaddr::10.0.0.50/24/eth0", "apache2"],
            "addresses": ["10.0.0.50"],
            "held_here": True,
        }
    ]
    assert result["config"]["nodes"] == ["web1", "web2"]
    assert result["config"]["deadtime_ms"] == 10000
    assert result["config"]["media"] == [{"kind": "bcast", "dev": "eth0", "address": None}]


def test_the_heartbeat_engine_is_asked_through_cl_status(node):
    node.install_heartbeat()
    node.run(heartbeat_info)
    assert "/usr/bin/cl_status nodestatus web2" in node.ran("nodestatus")
    assert not node.ran("/usr/bin/python3")


def test_the_agent_engine_is_asked_through_the_zipapp_not_the_cl_status_wrapper(node):
    node.install_agent()
    node.run(heartbeat_info)
    assert node.ran("cl-status", "nodestatus", "web2") == [
        f"/usr/bin/python3 {node.agent_path} cl-status nodestatus web2"
    ]
    assert not node.ran("/usr/bin/cl_status")


def test_a_dead_peer_is_reported_with_its_dead_link(any_node):
    any_node.nodes["web2"] = "dead"
    any_node.links["web2"]["eth0"] = "dead"
    outcome, result = any_node.run(heartbeat_info)
    assert outcome == "exit", result
    assert result["nodes"]["web2"] == {"status": "dead", "type": "normal", "links": {"eth0": "dead"}}
    assert result["nodes"]["web1"]["status"] == "active"


def test_a_group_whose_address_is_elsewhere_is_not_held_here(any_node):
    any_node.addresses = ["10.0.0.12"]
    any_node.rsc = ["none"]
    outcome, result = any_node.run(heartbeat_info)
    assert outcome == "exit", result
    assert result["groups"][0]["held_here"] is False
    assert result["rscstatus"] == "none"


def test_a_daemon_that_is_down_gives_the_same_shape_with_null_answers(node):
    node.install_heartbeat()
    node.running = False
    node.addresses = ["10.0.0.11"]
    outcome, result = node.run(heartbeat_info)
    assert outcome == "exit", result
    assert set(result) == RESULT_KEYS
    assert result["running"] is False
    assert result["rscstatus"] is None
    assert result["nodes"] == {name: {"status": None, "type": None, "links": {}} for name in ("web1", "web2")}
    assert result["config"]["nodes"] == ["web1", "web2"]
    assert node.ran("hbstatus") and not node.ran("nodestatus")


def test_a_stopped_agent_is_still_the_agent_engine_and_reported_down(node):
    node.install_agent(running=False)
    outcome, result = node.run(heartbeat_info)
    assert outcome == "exit", result
    assert (result["engine"], result["running"], result["rscstatus"]) == ("agent", False, None)


def test_an_unknown_node_status_fails_naming_what_the_daemon_said(any_node):
    any_node.nodes["web2"] = "zombie"
    outcome, result = any_node.run(heartbeat_info)
    assert outcome == "fail"
    assert "nodestatus web2" in result["msg"]
    assert "'zombie'" in result["msg"]
    assert "active, up, init, dead, ping" in result["msg"]


def test_an_unknown_rscstatus_fails_naming_what_the_daemon_said(any_node):
    any_node.rsc = ["half"]
    outcome, result = any_node.run(heartbeat_info)
    assert outcome == "fail"
    assert "rscstatus answered 'half'" in result["msg"]


def test_an_unknown_link_status_fails_naming_the_link(any_node):
    any_node.links["web2"]["eth0"] = "flapping"
    outcome, result = any_node.run(heartbeat_info)
    assert outcome == "fail"
    assert "hblinkstatus web2 eth0 answered 'flapping'" in result["msg"]


def test_a_node_of_ha_cf_that_the_daemon_does_not_know_fails_with_its_error(any_node):
    del any_node.nodes["web2"]
    outcome, result = any_node.run(heartbeat_info)
    assert outcome == "fail"
    assert "nodestatus web2" in result["msg"] and "rc 11" in result["msg"]
    assert "incorrect node name" in result["msg"]


def test_a_cl_status_timeout_is_reported_as_such(any_node):
    prefix = any_node.status_prefix()
    any_node.answers[(*prefix, "rscstatus")] = (12, "", "")
    outcome, result = any_node.run(heartbeat_info)
    assert outcome == "fail"
    assert "timed out" in result["msg"] and "rscstatus" in result["msg"]


def test_an_unexpected_hbstatus_exit_code_fails_rather_than_guessing(any_node):
    any_node.answers[(*any_node.status_prefix(), "hbstatus")] = (13, "", "boom")
    outcome, result = any_node.run(heartbeat_info)
    assert outcome == "fail"
    assert "hbstatus failed with rc 13" in result["msg"] and "boom" in result["msg"]


def test_ip_is_found_with_get_bin_path_and_its_absence_fails_clearly(any_node):
    del any_node.bins["ip"]
    outcome, result = any_node.run(heartbeat_info)
    assert outcome == "fail"
    assert "'ip'" in result["msg"]


def test_a_failing_ip_command_fails_with_its_error(any_node):
    any_node.ip_rc = 2
    outcome, result = any_node.run(heartbeat_info)
    assert outcome == "fail"
    assert "addr show failed (rc 2)" in result["msg"] and "netlink" in result["msg"]


def test_a_broken_configuration_fails_naming_the_file_and_line(any_node):
    (any_node.config_dir / "ha.cf").write_text("keepalive 2\ndeadtime 1\nbcast eth0\nnode web1\nnode web2\n")
    outcome, result = any_node.run(heartbeat_info)
    assert outcome == "fail"
    assert result["msg"].startswith("invalid Heartbeat configuration:")
    assert "ha.cf" in result["msg"]


def test_check_mode_reads_the_same_and_runs_only_read_only_commands(any_node):
    outcome, result = any_node.run(heartbeat_info, check_mode=True)
    assert outcome == "exit", result
    assert result["changed"] is False and result["running"] is True
    assert not any_node.ran("standby") and not any_node.ran("takeover")
