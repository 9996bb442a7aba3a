"""The cluster data mapped onto corosync.conf and the CIB (module_utils/pacemaker and its filters)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.hakit.heartbeat.plugins.filter import pacemaker as flt
from ansible_collections.hakit.heartbeat.plugins.module_utils import pacemaker as pm

NODES = [{"name": "web1", "address": "10.0.0.11"}, {"name": "web2", "address": "10.0.0.12"}]
GROUPS = [
    {
        "node": "web1",
        "resources": [
            {"type": "IPaddr", "address": "10.0.0.50", "cidr": 24, "interface": "eth0"},
            {"type": "service", "name": "apache2"},
        ],
    }
]


def conf(nodes=None, token=4545, name="hakit"):
    nodes = NODES if nodes is None else nodes
    return pm.render_corosync_conf({"cluster_name": name, "nodes": nodes, "token": token})


def test_deadtime_becomes_a_token_whose_detection_time_is_about_deadtime():
    token = pm.token_ms(10000)
    assert token == 4545
    assert abs(token * (1 + pm.CONSENSUS_FACTOR) - 10000) < 5


def test_an_explicit_token_wins_over_deadtime():
    assert flt.pcmk_token(10000, 3000) == 3000


def test_two_nodes_get_two_node_mode_knet_and_crypto():
    text = conf()
    assert "two_node: 1" in text
    assert "transport: knet" in text and "crypto_cipher: aes256" in text and "crypto_hash: sha256" in text
    assert "token: 4545" in text and "consensus: 5454" in text
    assert (
        "nodeid: 1\n        ring0_addr: 10.0.0.11" in text
        and "nodeid: 2\n        ring0_addr: 10.0.0.12" in text
    )


def test_three_nodes_use_plain_votequorum():
    text = conf([*NODES, {"name": "Web3", "address": "10.0.0.13"}])
    assert "two_node" not in text
    assert "provider: corosync_votequorum" in text
    assert "name: web3" in text


@pytest.mark.parametrize(
    "settings, variable",
    [
        ({"cluster_name": "bad name", "nodes": NODES, "token": 3000}, "heartbeat_pacemaker_cluster_name"),
        ({"cluster_name": "hakit", "nodes": NODES, "token": 10}, "heartbeat_pacemaker_token"),
        ({"cluster_name": "hakit", "nodes": [{"name": "web1"}], "token": 3000}, "heartbeat_nodes[0]"),
    ],
)
def test_bad_corosync_settings_name_the_variable(settings, variable):
    with pytest.raises(AnsibleFilterError, match=rf"^{variable.replace('[', '.').replace(']', '.')}"):
        flt.pcmk_corosync_conf(settings)


def cib(groups=None, nodes=("web1", "web2"), **kw):
    groups = GROUPS if groups is None else groups
    return {k: ET.fromstring(v) for k, v in flt.pcmk_cib(groups, list(nodes), **kw).items()}


def test_a_group_becomes_an_ipaddr2_and_systemd_group_with_monitors():
    sections = cib()
    group = sections["resources"].find("group")
    assert group.get("id") == "grp-ip-10.0.0.50"
    ip, web = group.findall("primitive")
    assert (ip.get("class"), ip.get("provider"), ip.get("type")) == ("ocf", "heartbeat", "IPaddr2")
    params = {p.get("name"): p.get("value") for p in ip.iter("nvpair")}
    assert params == {"ip": "10.0.0.50", "cidr_netmask": "24", "nic": "eth0"}
    assert (web.get("class"), web.get("type")) == ("systemd", "apache2")
    for prim in (ip, web):
        assert [op.get("interval") for op in prim.iter("op") if op.get("name") == "monitor"] == ["10s"]


def test_raw_words_map_like_dicts_and_a_dotted_netmask_becomes_cidr():
    sections = cib([{"node": "web2", "resources": ["IPaddr2::10.0.0.60/255.255.255.0/eth1", "nginx"]}])
    ip = sections["resources"].find("group/primitive")
    params = {p.get("name"): p.get("value") for p in ip.iter("nvpair")}
    assert params == {"ip": "10.0.0.60", "cidr_netmask": "24", "nic": "eth1"}


def test_the_preferred_node_scores_highest_then_the_others_in_node_order():
    sections = cib([{"node": "web2", "resources": ["apache2"]}], nodes=("web1", "web2", "web3"))
    scores = {c.get("node"): int(c.get("score")) for c in sections["constraints"]}
    assert scores["web2"] > scores["web1"] > scores["web3"]


@pytest.mark.parametrize("failback, sticky", [("on", False), ("off", True), (True, False), (False, True)])
def test_auto_failback_sets_stickiness_against_the_score_gap(failback, sticky):
    sections = cib(auto_failback=failback)
    stickiness = int(sections["rsc_defaults"].find(".//nvpair").get("value"))
    gap = pm.SCORE_STEP
    assert (stickiness > pm.PREFERRED_SCORE) if sticky else (stickiness < gap)


def test_stonith_disabled_only_when_asked_and_fence_devices_become_primitives():
    props = {p.get("name"): p.get("value") for p in cib(stonith_enabled=False)["crm_config"].iter("nvpair")}
    assert props["stonith-enabled"] == "false"
    sections = cib(fence_devices=[{"name": "ipmi-web1", "agent": "fence_ipmilan", "params": {"ip": "10.9.0.1"},
                                   "nodes": ["web1"]}])  # fmt: skip
    fence = sections["resources"].find("primitive")
    assert (fence.get("id"), fence.get("class"), fence.get("type")) == (
        "fence-ipmi-web1",
        "stonith",
        "fence_ipmilan",
    )
    assert {p.get("name"): p.get("value") for p in fence.iter("nvpair")}["pcmk_host_list"] == "web1"
    avoid = [c for c in sections["constraints"] if c.get("rsc") == "fence-ipmi-web1"]
    assert [(c.get("node"), c.get("score")) for c in avoid] == [("web1", "-INFINITY")]


def test_resources_pacemaker_cannot_run_are_named_by_their_index():
    groups = [{"node": "web1", "resources": ["apache2", "content-sync", "Filesystem::/dev/sdb1::/srv::ext4"]}]
    problems = flt.pcmk_unmapped(groups)
    assert len(problems) == 2
    assert problems[0].startswith("heartbeat_resource_groups[0].resources[1]: content-sync")
    assert problems[1].startswith("heartbeat_resource_groups[0].resources[2]: Filesystem::")


def test_a_bare_word_naming_a_resource_d_script_is_not_a_service():
    problems = flt.pcmk_unmapped(
        [{"node": "web1", "resources": ["IPaddr::10.0.0.50", "myscript"]}], ["IPaddr", "myscript"]
    )
    assert problems == [
        "heartbeat_resource_groups[0].resources[1] (myscript) is the Heartbeat resource script "
        "/etc/ha.d/resource.d/myscript: the pacemaker engine maps only IPaddr/IPaddr2 and services "
        "(systemd units or LSB scripts)"
    ]


def test_two_groups_with_the_same_service_are_refused():
    with pytest.raises(
        AnsibleFilterError, match=r"heartbeat_resource_groups\[1\]\.resources\[0\]: maps to the Pacemaker id"
    ):
        flt.pcmk_cib([{"node": "web1", "resources": ["apache2"]}, {"node": "web2", "resources": ["apache2"]}],
                     ["web1", "web2"])  # fmt: skip


def test_an_authkey_must_be_long_enough_and_is_never_echoed():
    assert flt.pcmk_authkey_problem("x" * 200) == ""
    problem = flt.pcmk_authkey_problem("short-secret")
    assert "128 to 512" in problem and "short-secret" not in problem


# -- comparing live sections ---------------------------------------------------------------------

LIVE_CRM_CONFIG = """<crm_config>
  <cluster_property_set id="cib-bootstrap-options">
    <nvpair id="cib-bootstrap-options-dc-version" name="dc-version" value="2.1.5"/>
    <nvpair id="cib-bootstrap-options-maintenance-mode" name="maintenance-mode" value="true"/>
  </cluster_property_set>
</crm_config>"""


def test_pacemakers_own_properties_are_kept_and_not_compared():
    wanted = flt.pcmk_cib(GROUPS, ["web1", "web2"])["crm_config"]
    current, merged = pm.normalise_section("crm_config", wanted, LIVE_CRM_CONFIG)
    assert current != merged
    assert 'name="dc-version"' in merged and 'name="maintenance-mode"' in merged
    # once replaced by `merged`, the section compares equal: the second run changes nothing
    again, merged_again = pm.normalise_section("crm_config", wanted, merged)
    assert again == merged_again


def test_attribute_order_and_whitespace_do_not_count_as_a_change():
    wanted = '<resources><primitive id="a" class="systemd" type="x"/></resources>'
    live = '<resources>\n  <primitive type="x" id="a" class="systemd"/>\n</resources>'
    current, merged = pm.normalise_section("resources", wanted, live)
    assert current == merged


def test_a_manual_move_constraint_survives():
    wanted = '<constraints><rsc_location id="loc-g-web1" rsc="g" node="web1" score="100"/></constraints>'
    live = ('<constraints><rsc_location id="cli-prefer-g" rsc="g" node="web2" score="INFINITY"/>'
            '<rsc_location id="loc-g-web1" rsc="g" node="web1" score="100"/></constraints>')  # fmt: skip
    current, merged = pm.normalise_section("constraints", wanted, live)
    assert current == merged


# -- reading crm_mon -----------------------------------------------------------------------------

CRM_MON = """<pacemaker-result api-version="2.25" request="crm_mon --output-as=xml">
  <summary><current_dc present="true" name="web2"/></summary>
  <nodes>
    <node name="web1" id="1" online="{web1}"/>
    <node name="web2" id="2" online="true"/>
  </nodes>
  <resources>
    <group id="grp-ip-10.0.0.50" number_resources="2">
      <resource id="ip-10.0.0.50" role="Started" failed="false" managed="true"><node name="{at}" id="1"/></resource>
      <resource id="apache2" role="Started" failed="false" managed="true"><node name="{at}" id="1"/></resource>
    </group>
  </resources>
</pacemaker-result>"""


def test_crm_mon_is_read_into_nodes_and_resources():
    status = flt.pcmk_status(CRM_MON.format(web1="true", at="web1"))
    assert status["dc"] is True
    assert status["nodes"] == {"web1": True, "web2": True}
    assert status["resources"]["apache2"] == {
        "group": "grp-ip-10.0.0.50", "role": "Started", "nodes": ["web1"], "failed": False, "managed": True}  # fmt: skip


@pytest.mark.parametrize(
    "web1, at, failback, settled",
    [
        ("true", "web1", "on", True),
        ("true", "web2", "on", False),  # failback pending
        ("true", "web2", "off", True),  # sticky: stays on web2
        ("false", "web2", "on", False),  # a node offline
    ],
)
def test_placement_is_settled_only_where_auto_failback_wants_it(web1, at, failback, settled):
    sections = flt.pcmk_cib(GROUPS, ["web1", "web2"], auto_failback=failback)
    problems = flt.pcmk_placement_problems(CRM_MON.format(web1=web1, at=at), sections, failback)
    assert (problems == []) is settled, problems
