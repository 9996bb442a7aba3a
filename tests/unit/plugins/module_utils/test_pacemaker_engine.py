"""module_utils/heartbeat_engine, Pacemaker: the parsers against crm_mon/cibadmin output of Pacemaker 2.1.5
(API 2.25) and Corosync 3.1, detection, and the moves planned with crm_resource."""

from __future__ import annotations

import pytest
from ansible_collections.hakit.heartbeat.plugins.module_utils import heartbeat_engine as he

# Two nodes: web2 offline, the group vip (IPaddr2 + systemd apache2) on web1 with apache2 starting.
CRM_MON_2 = """<pacemaker-result api-version="2.25" request="crm_mon --output-as=xml --one-shot">
  <summary>
    <stack type="corosync"/>
    <current_dc present="true" version="2.1.5-a3f44794f94" name="web1" id="1" with_quorum="true" mixed_version="false"/>
    <last_update time="Tue Jul  1 10:00:00 2025"/>
    <last_change time="Tue Jul  1 09:59:00 2025" user="root" client="cibadmin" origin="web1"/>
    <nodes_configured number="2"/>
    <resources_configured number="2" disabled="0" blocked="0"/>
    <cluster_options stonith-enabled="false" symmetric-cluster="true" no-quorum-policy="stop"
      maintenance-mode="false" stop-all-resources="false" stonith-timeout-ms="60000" priority-fencing-delay-ms="0"/>
  </summary>
  <nodes>
    <node name="web1" id="1" online="true" standby="false" standby_onfail="false" maintenance="false"
      pending="false" unclean="false" shutdown="false" expected_up="true" is_dc="true" resources_running="2"
      type="member"/>
    <node name="web2" id="2" online="false" standby="false" standby_onfail="false" maintenance="false"
      pending="false" unclean="false" shutdown="false" expected_up="false" is_dc="false" resources_running="0"
      type="member"/>
  </nodes>
  <resources>
    <group id="vip" number_resources="2" managed="true" disabled="false">
      <resource id="ip-10.0.0.50" resource_agent="ocf:heartbeat:IPaddr2" role="Started" active="true"
        orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="web1" id="1" cached="true"/>
      </resource>
      <resource id="apache2" resource_agent="systemd:apache2" role="Starting" active="true" orphaned="false"
        blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="web1" id="1" cached="true"/>
      </resource>
    </group>
  </resources>
  <node_history/>
  <status code="0" message="OK"/>
</pacemaker-result>
"""

# Three nodes: web1 standby, web2 online (DC), web3 unclean; vip on web2, db stopped.
CRM_MON_3 = """<pacemaker-result api-version="2.25" request="crm_mon --output-as=xml">
  <summary>
    <current_dc present="true" version="2.1.5-a3f44794f94" name="web2" id="2" with_quorum="true" mixed_version="false"/>
  </summary>
  <nodes>
    <node name="web1" id="1" online="true" standby="true" standby_onfail="false" maintenance="false" pending="false"
      unclean="false" shutdown="false" expected_up="true" is_dc="false" resources_running="0" type="member"/>
    <node name="web2" id="2" online="true" standby="false" standby_onfail="false" maintenance="false" pending="false"
      unclean="false" shutdown="false" expected_up="true" is_dc="true" resources_running="2" type="member"/>
    <node name="web3" id="3" online="false" standby="false" standby_onfail="false" maintenance="false"
      pending="false" unclean="true" shutdown="false" expected_up="true" is_dc="false" resources_running="0"
      type="member"/>
  </nodes>
  <resources>
    <group id="vip" number_resources="2" managed="true" disabled="false">
      <resource id="ip-10.0.0.50" resource_agent="ocf:heartbeat:IPaddr2" role="Started" active="true"
        orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="web2" id="2" cached="true"/>
      </resource>
      <resource id="apache2" resource_agent="systemd:apache2" role="Started" active="true" orphaned="false"
        blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="web2" id="2" cached="true"/>
      </resource>
    </group>
    <group id="db" number_resources="1" managed="true" disabled="false">
      <resource id="postgresql" resource_agent="systemd:postgresql" role="Stopped" active="false" orphaned="false"
        blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="0"/>
    </group>
  </resources>
  <status code="0" message="OK"/>
</pacemaker-result>
"""

CIB_3 = """<configuration>
  <crm_config/>
  <nodes><node id="1" uname="web1"/><node id="2" uname="web2"/><node id="3" uname="web3"/></nodes>
  <resources>
    <group id="vip">
      <primitive id="ip-10.0.0.50" class="ocf" provider="heartbeat" type="IPaddr2">
        <instance_attributes id="ip-10.0.0.50-instance_attributes">
          <nvpair id="ip-10.0.0.50-instance_attributes-ip" name="ip" value="10.0.0.50"/>
          <nvpair id="ip-10.0.0.50-instance_attributes-cidr_netmask" name="cidr_netmask" value="24"/>
          <nvpair id="ip-10.0.0.50-instance_attributes-nic" name="nic" value="eth0"/>
        </instance_attributes>
        <operations><op id="ip-10.0.0.50-monitor-interval-10s" name="monitor" interval="10s" timeout="20s"/></operations>
      </primitive>
      <primitive id="apache2" class="systemd" type="apache2"/>
    </group>
    <group id="db">
      <primitive id="postgresql" class="systemd" type="postgresql"/>
      <primitive id="fs" class="ocf" provider="heartbeat" type="Filesystem">
        <instance_attributes id="fs-ia">
          <nvpair id="fs-ia-device" name="device" value="/dev/sdb1"/>
          <nvpair id="fs-ia-directory" name="directory" value="/srv"/>
        </instance_attributes>
      </primitive>
    </group>
    <primitive id="fence-web1" class="stonith" type="fence_ipmilan"/>
  </resources>
  <constraints>
    <rsc_location id="loc-vip-web1" rsc="vip" node="web1" score="100"/>
    <rsc_location id="loc-vip-web2" rsc="vip" node="web2" score="90"/>
    <rsc_location id="loc-vip-web3" rsc="vip" node="web3" score="80"/>
    <rsc_location id="cli-prefer-vip" rsc="vip" role="Started" node="web2" score="INFINITY"/>
    <rsc_location id="loc-db-web3" rsc="db" node="web3" score="100"/>
    <rsc_location id="loc-db-web1" rsc="db" node="web1" score="90"/>
    <rsc_location id="loc-fence-web1-avoid-web1" rsc="fence-web1" node="web1" score="-INFINITY"/>
  </constraints>
  <rsc_defaults>
    <meta_attributes id="rsc-options">
      <nvpair id="rsc-options-resource-stickiness" name="resource-stickiness" value="1000"/>
    </meta_attributes>
  </rsc_defaults>
</configuration>
"""

CFGTOOL_3 = """Local node ID 2, transport knet
LINK ID 0 udp
\taddr\t= 10.0.0.12
\tstatus:
\t\tnodeid:          1:\tconnected
\t\tnodeid:          2:\tlocalhost
\t\tnodeid:          3:\tdisconnected
LINK ID 1 udp
\taddr\t= 192.168.9.12
\tstatus:
\t\tnodeid:          1:\tconnected
\t\tnodeid:          2:\tlocalhost
\t\tnodeid:          3:\tdisconnected
"""


class Module:
    def __init__(self, node, engine="auto"):
        self.node = node
        self.params = {"engine": engine, "agent_path": str(node.agent_path)}

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return self.node.get_bin_path(self, name, required, opt_dirs)

    def run_command(self, args, **kwargs):
        return self.node.run_command(self, args, **kwargs)


def test_crm_mon_nodes_map_online_offline_standby_and_unclean_to_heartbeat_words():
    two = he.parse_crm_mon(CRM_MON_2)
    assert [(n["name"], n["status"], n["type"]) for n in two["nodes"]] == [
        ("web1", "active", "normal"),
        ("web2", "dead", "normal"),
    ]
    three = he.parse_crm_mon(CRM_MON_3)
    assert [n["status"] for n in three["nodes"]] == ["up", "active", "dead"]
    assert three["dc"] == "web2"


def test_a_pending_node_is_init():
    joining = CRM_MON_2.replace('online="false" standby="false" standby_onfail="false" maintenance="false"\n      pending="false"',
                                'online="false" standby="false" standby_onfail="false" maintenance="false"\n      pending="true"')  # fmt: skip
    assert [n["status"] for n in he.parse_crm_mon(joining)["nodes"]] == ["active", "init"]


def test_a_starting_member_puts_its_group_in_transition():
    groups = he.parse_crm_mon(CRM_MON_2)["groups"]
    assert he.group_placement(groups["vip"]) == "transition"
    settled = he.parse_crm_mon(CRM_MON_3)["groups"]
    assert he.group_placement(settled["vip"]) == "web2"
    assert he.group_placement(settled["db"]) is None


def test_a_group_split_over_two_nodes_is_in_transition():
    members = [
        {"id": "a", "role": "Started", "nodes": ["web1"]},
        {"id": "b", "role": "Started", "nodes": ["web2"]},
    ]
    assert he.group_placement(members) == "transition"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("<html>cluster down</html>", "without <nodes> and <resources>"),
        ("not xml at all", "no readable XML"),
        (CRM_MON_2.replace('role="Starting"', 'role="Dancing"'), "the role 'Dancing'"),
        (CRM_MON_2.replace('online="true"', 'online="yes"'), "online='yes'"),
        (CRM_MON_2.replace('type="member"', 'type="alien"', 1), "of type 'alien'"),
    ],
)
def test_crm_mon_answers_outside_the_schema_raise_naming_the_command(text, words):
    with pytest.raises(he.EngineError) as err:
        he.parse_crm_mon(text, "crm_mon --output-as=xml --one-shot")
    assert words in str(err.value) and "crm_mon --output-as=xml" in str(err.value)


def test_cib_groups_prefer_the_top_score_and_ignore_cli_constraints():
    cib = he.parse_cib(CIB_3)
    vip, db = cib["groups"]
    assert (vip["id"], vip["preferred"], vip["cli"]) == ("vip", "web1", ["cli-prefer-vip"])
    assert vip["scores"] == {"web1": 100, "web2": 90, "web3": 80}
    assert vip["resources"] == ["IPaddr2::10.0.0.50/24/eth0", "apache2"]
    assert vip["addresses"] == ["10.0.0.50"]
    assert (db["preferred"], db["resources"]) == (
        "web3",
        ["postgresql", "Filesystem::device=/dev/sdb1::directory=/srv"],
    )
    assert cib["stickiness"] == 1000
    assert cib["nodes"] == ["web1", "web2", "web3"]
    assert [g["id"] for g in cib["groups"]] == ["vip", "db"]  # the stonith primitive is no group


def test_a_whole_cib_file_is_read_like_the_configuration_scope():
    whole = f'<cib epoch="7" num_updates="0" admin_epoch="0">{CIB_3}<status/></cib>'
    assert he.parse_cib(whole)["groups"][0]["preferred"] == "web1"


def test_a_score_that_is_no_number_raises():
    with pytest.raises(he.EngineError) as err:
        he.parse_cib(CIB_3.replace('score="90"', 'score="high"', 1))
    assert "the score 'high' in rsc_location 'loc-vip-web2'" in str(err.value)


def test_knet_links_by_node_id():
    assert he.parse_cfgtool_links(CFGTOOL_3) == {
        "1": {"link0": "up", "link1": "up"},
        "2": {"link0": "up", "link1": "up"},
        "3": {"link0": "dead", "link1": "dead"},
    }
    with pytest.raises(he.EngineError) as err:
        he.parse_cfgtool_links(CFGTOOL_3.replace("disconnected", "flapping", 1))
    assert "'flapping' for node 3 on link0" in str(err.value)


def test_a_running_pacemaker_is_detected_before_a_running_agent_and_heartbeat(node):
    node.install_heartbeat()
    node.install_agent(running=True)
    node.install_pacemaker()
    assert he.detect_engine(Module(node)) == ("pacemaker", "pacemaker.service is active")


def test_a_stopped_pacemaker_is_found_by_pacemakerd_where_no_heartbeat_daemon_is(node):
    node.install_agent(running=False)
    node.install_pacemaker()
    node.running = False
    node._executable(node.tmp / "pacemakerd")
    name, reason = he.detect_engine(Module(node))
    assert name == "pacemaker" and "pacemakerd" in reason


def test_engine_pacemaker_without_its_tools_names_the_package(node):
    with pytest.raises(he.EngineError) as err:
        he.resolve_engine(Module(node, "pacemaker"))
    assert "crm_mon, cibadmin, crm_resource, crm_node, crmadmin not found" in str(err.value)
    assert "pacemaker-cli-utils" in str(err.value)


def _engine(node):
    engine = he.resolve_engine(Module(node, "pacemaker"))
    assert engine.running()
    return engine


@pytest.mark.parametrize(
    ("here", "where", "hold", "moves", "clears"),
    [
        # two nodes, vip preferred by web1
        ("web2", "web1", "all", [("vip", "web2")], []),  # takeover away from web1: cli-prefer stays
        ("web1", "web1", "none", [("vip", "web2")], []),
        ("web1", "web2", "local", [("vip", "web1")], ["vip"]),  # home again: the move constraint is cleared
        ("web2", "web2", "none", [("vip", "web1")], ["vip"]),
        ("web2", "web2", "local", [("vip", "web1")], ["vip"]),
        ("web1", "web1", "local", [], []),
        ("web1", "web1", "all", [], []),
        ("web2", "web1", "none", [], []),
        ("web2", "web1", "local", [], []),
    ],
)
def test_moves_are_crm_resource_move_and_clear_once_home(node, here, where, hold, moves, clears):
    node.install_pacemaker(here=here)
    node.pacemaker.groups["vip"]["where"] = where
    node.pacemaker.stickiness = 1000  # auto_failback off: vip stays where it was put
    engine = _engine(node)
    before = engine.rscstatus()
    assert engine.move_commands(before, hold) == [
        ["/usr/sbin/crm_resource", "--move", "--resource", gid, "--node", target] for gid, target in moves
    ]
    assert engine.settle_commands(hold) == [
        ["/usr/sbin/crm_resource", "--clear", "--resource", g] for g in clears
    ]
    assert engine.reached(before, hold) == (not moves)


def test_a_constraint_left_by_an_earlier_switchover_is_cleared_when_asking_for_local(node):
    node.install_pacemaker()
    node.pacemaker.cli["vip"] = {"cli-prefer-vip": "web2"}  # web2 down meanwhile: vip came home by failover
    node.pacemaker.nodes["web2"]["state"] = "offline"
    engine = _engine(node)
    before = engine.rscstatus()
    assert engine.move_commands(before, "local") == []
    assert engine.settle_commands("local") == [["/usr/sbin/crm_resource", "--clear", "--resource", "vip"]]


def test_rscstatus_words_on_three_nodes(node):
    node.install_pacemaker(names=("web1", "web2", "web3"), here="web1")
    node.pacemaker.add_group("db", "web3", "web3", ip="10.0.0.60", service="postgresql")
    node.pacemaker.stickiness = 1000
    engine = _engine(node)
    assert engine.rscstatus() == "local"
    node.pacemaker.groups["db"]["where"] = "web1"  # web3's group taken over by web1
    assert engine.rscstatus() == "all"
    node.pacemaker.groups["vip"]["where"] = "web2"
    assert engine.rscstatus() == "foreign"
    node.pacemaker.groups["db"]["where"] = "web2"
    assert engine.rscstatus() == "none"


def test_a_busy_dc_or_no_dc_is_transition(node):
    node.install_pacemaker()
    engine = _engine(node)
    node.pacemaker.dc_state = "S_TRANSITION_ENGINE"
    assert engine.rscstatus() == "transition"
    node.pacemaker.dc_state = "S_IDLE"
    assert engine.rscstatus() == "local"


def test_no_other_active_node_to_hand_a_group_to_raises(node):
    node.install_pacemaker()
    node.pacemaker.nodes["web2"]["state"] = "standby"
    engine = _engine(node)
    with pytest.raises(he.EngineError) as err:
        engine.move_commands(engine.rscstatus(), "none")
    assert "no other active node can take group 'vip'" in str(err.value) and "web2 up" in str(err.value)


def test_a_crm_mon_failure_other_than_not_connected_raises(node):
    node.install_pacemaker()
    node.answers[("/usr/sbin/crm_mon", "--output-as=xml", "--one-shot")] = (1, "", "crm_mon: Error: boom")
    engine = he.resolve_engine(Module(node, "pacemaker"))
    with pytest.raises(he.EngineError) as err:
        engine.running()
    assert "crm_mon --output-as=xml --one-shot failed with rc 1" in str(err.value) and "boom" in str(
        err.value
    )


def test_a_controller_state_that_is_not_one_raises(node):
    node.install_pacemaker()
    node.pacemaker.dc_state = "sleepy"
    engine = _engine(node)
    with pytest.raises(he.EngineError) as err:
        engine.rscstatus()
    assert "crmadmin --status=web1" in str(err.value) and "no controller state" in str(err.value)
