"""heartbeat_info and switchover on a Corosync + Pacemaker node: the same keys as on Heartbeat, read from
crm_mon/cibadmin, and moves made with crm_resource."""

from __future__ import annotations

from ansible_collections.hakit.heartbeat.plugins.modules import heartbeat_info, switchover

INFO_KEYS = {"changed", "running", "engine", "local_node", "nodes", "rscstatus", "groups", "config"}
CONFIG_KEYS = {
    "nodes",
    "keepalive_ms",
    "warntime_ms",
    "deadtime_ms",
    "initdead_ms",
    "udpport",
    "auto_failback",
    "media",
}
MOVE = "/usr/sbin/crm_resource --move --resource vip --node"
CLEAR = "/usr/sbin/crm_resource --clear --resource vip"


def test_heartbeat_info_reports_the_cib_and_crm_mon_in_the_usual_shape(node):
    node.install_pacemaker()
    node.addresses = ["10.0.0.11", "10.0.0.50"]
    outcome, result = node.run(heartbeat_info)
    assert outcome == "exit", result
    assert set(result) == INFO_KEYS and set(result["config"]) == CONFIG_KEYS
    assert (result["engine"], result["running"], result["rscstatus"]) == ("pacemaker", True, "local")
    assert result["nodes"] == {
        "web1": {"status": "active", "type": "normal", "links": {"link0": "up"}},
        "web2": {"status": "active", "type": "normal", "links": {"link0": "up"}},
    }
    assert result["groups"] == [
        {
            "node": "web1",
            "key": "vip",
            "resources": ["IPaddr2::10.0.0.50/24/eth0", "apache2"],
            "addresses": ["10.0.0.50"],
            "held_here": True,
        }
    ]
    assert result["config"] == {
        "nodes": ["web1", "web2"],
        "keepalive_ms": 714,
        "warntime_ms": 2250,
        "deadtime_ms": 3000,
        "initdead_ms": None,
        "udpport": None,
        "auto_failback": "on",
        "media": [],
    }
    assert not node.ran("cl_status")


def test_an_offline_peer_is_dead_with_its_link_down(node):
    node.install_pacemaker()
    node.pacemaker.nodes["web2"]["state"] = "offline"
    outcome, result = node.run(heartbeat_info)
    assert outcome == "exit", result
    assert result["nodes"]["web2"] == {"status": "dead", "type": "normal", "links": {"link0": "dead"}}


def test_without_corosync_tools_links_are_empty_and_timings_null(node):
    node.install_pacemaker()
    del node.bins["corosync-cfgtool"], node.bins["corosync-cmapctl"]
    outcome, result = node.run(heartbeat_info)
    assert outcome == "exit", result
    assert result["nodes"]["web2"]["links"] == {}
    assert result["config"]["deadtime_ms"] is None


def test_a_stopped_pacemaker_reports_the_cib_file_with_null_answers(node):
    node.install_pacemaker()
    node.running = False
    node.cib_file.write_text(f"<cib>{node.pacemaker.configuration_xml()}<status/></cib>")
    outcome, result = node.run(heartbeat_info)
    assert outcome == "exit", result
    assert (result["running"], result["rscstatus"]) == (False, None)
    assert result["nodes"] == {n: {"status": None, "type": None, "links": {}} for n in ("web1", "web2")}
    assert result["groups"][0]["key"] == "vip" and result["config"]["deadtime_ms"] is None


def test_a_stopped_pacemaker_without_a_cib_file_fails_naming_it(node):
    node.install_pacemaker()
    node.running = False
    outcome, result = node.run(heartbeat_info)
    assert outcome == "fail"
    assert str(node.cib_file) in result["msg"]


def test_switchover_takes_the_peers_group_and_leaves_the_move_constraint(node):
    node.install_pacemaker(here="web2")
    outcome, result = node.run(switchover, hold="all")
    assert outcome == "exit", result
    assert (result["engine"], result["before"], result["after"], result["changed"]) == (
        "pacemaker",
        "none",
        "foreign",
        True,
    )
    assert result["commands"] == [f"{MOVE} web2"]
    assert node.pacemaker.groups["vip"]["where"] == "web2"
    assert node.pacemaker.cli == {"vip": {"cli-prefer-vip": "web2"}}  # what keeps vip there against failback


def test_hold_local_brings_the_group_home_and_clears_the_constraint(node):
    node.install_pacemaker()
    node.pacemaker.cli["vip"] = {"cli-prefer-vip": "web2"}
    node.pacemaker.groups["vip"]["where"] = "web2"
    outcome, result = node.run(switchover, hold="local")
    assert outcome == "exit", result
    assert result["commands"] == [f"{MOVE} web1", CLEAR]
    assert (result["before"], result["after"]) == ("none", "local")
    assert node.pacemaker.cli == {} and node.pacemaker.groups["vip"]["where"] == "web1"
    # auto_failback works again: web1 leaves and comes back, vip follows it home
    node.pacemaker.nodes["web1"]["state"] = "offline"
    for _step in range(4):
        node.pacemaker.settle()
    assert node.pacemaker.groups["vip"]["where"] == "web2"
    node.pacemaker.nodes["web1"]["state"] = "online"
    for _step in range(4):
        node.pacemaker.settle()
    assert node.pacemaker.groups["vip"]["where"] == "web1"
    outcome, again = node.run(switchover, hold="local")
    assert (outcome, again["changed"], again["commands"]) == ("exit", False, [])


def test_check_mode_lists_the_move_and_the_clear_and_runs_neither(node):
    node.install_pacemaker()
    node.pacemaker.stickiness = 1000
    node.pacemaker.groups["vip"]["where"] = "web2"
    outcome, result = node.run(switchover, check_mode=True, hold="local")
    assert outcome == "exit", result
    assert result["changed"] is True and result["commands"] == [f"{MOVE} web1", CLEAR]
    assert not node.ran("crm_resource")


def test_a_move_in_progress_is_waited_for_before_planning(node):
    node.install_pacemaker(here="web2")
    node.pacemaker.groups["vip"]["pending"] = ["Starting", "Starting"]
    outcome, result = node.run(switchover, hold="all")
    assert outcome == "exit", result
    assert result["before"] == "none" and result["commands"] == [f"{MOVE} web2"]


def test_a_refused_crm_resource_fails_with_its_message(node):
    node.install_pacemaker()
    node.pacemaker.moves_refused = True
    outcome, result = node.run(switchover, hold="none")
    assert outcome == "fail"
    assert f"{MOVE} web2 failed (rc 1)" in result["msg"] and "Permission denied" in result["msg"]


def test_a_move_that_never_settles_fails_after_the_timeout(node):
    node.install_pacemaker()
    node.pacemaker.move_polls = 1000
    outcome, result = node.run(switchover, hold="none", timeout=3)
    assert outcome == "fail"
    assert "did not reach 'none' within 3s (rscstatus: transition)" in result["msg"]


def test_a_stopped_pacemaker_fails_the_switchover_and_moves_nothing(node):
    node.install_pacemaker()
    node.running = False
    outcome, result = node.run(switchover, hold="all")
    assert outcome == "fail"
    assert "the pacemaker daemon is not running" in result["msg"]
    assert not node.ran("crm_resource")
