"""Filters of plugins/filter/heartbeat.py: role data -> config text, and errors naming the variable."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.hakit.heartbeat.plugins.filter import heartbeat as hbf
from ansible_collections.hakit.heartbeat.plugins.module_utils import heartbeat_config as hc

# what the role passes (roles/heartbeat/vars/main.yml)
ROLE_VARIABLES = {
    "ha_cf": "heartbeat_",
    "ha_cf.extra": "heartbeat_ha_cf_extra",
    "haresources": "heartbeat_resource_groups",
    "authkeys.active": "heartbeat_auth_index",
    "authkeys.keys.3": "heartbeat_auth_index",
    "authkeys.keys.3.method": "heartbeat_auth_method",
    "authkeys.keys.3.key": "heartbeat_auth_key",
}

LAB_HA_CF = {
    "nodes": ["web1", "web2"],
    "keepalive": 2,
    "warntime": None,
    "deadtime": 10,
    "initdead": None,
    "udpport": 694,
    "media": [{"type": "bcast", "interfaces": ["eth0"]}],
    "auto_failback": "on",
    "ping": [],
    "crm": "off",
    "logfile": "/var/log/ha-log",
    "logfacility": "local0",
    "debugfile": None,
    "extra": [],
}

LAB_GROUPS = [
    {
        "node": "web1",
        "resources": [
            {"type": "IPaddr", "address": "10.213.10.50", "cidr": 24, "interface": "eth0"},
            {"type": "service", "name": "apache2"},
        ],
    }
]


def filters():
    return hbf.FilterModule().filters()


def test_every_documented_filter_is_exported():
    names = set(filters())
    assert {"ha_cf", "haresources", "authkeys", "hb_msec", "hb_resource_word"} <= names


# ---------------------------------------------------------------------------------------------- ha.cf


def test_ha_cf_renders_the_lab_file_that_reparses_to_the_same_settings():
    text = filters()["ha_cf"](LAB_HA_CF, ROLE_VARIABLES)
    parsed = hc.parse_ha_cf(text)
    assert parsed.nodes == ["web1", "web2"]
    assert (parsed.keepalive_ms, parsed.deadtime_ms) == (2000, 10000)
    assert parsed.auto_failback == "on"
    assert [(m.kind, m.dev) for m in parsed.media] == [("bcast", "eth0")]
    assert parsed.logfile == "/var/log/ha-log"
    assert parsed.crm == "off"
    # null settings are omitted, not written as "None"
    assert "None" not in text
    assert "warntime" not in text and "initdead" not in text


def test_ha_cf_udpport_precedes_media():
    lines = filters()["ha_cf"](LAB_HA_CF).splitlines()
    directives = [line.split()[0] for line in lines]
    assert directives.index("udpport") < directives.index("bcast")


def test_ha_cf_accepts_millisecond_units():
    settings = dict(LAB_HA_CF, keepalive="500ms", deadtime="3000ms", warntime=2, initdead=10)
    parsed = hc.parse_ha_cf(hbf.ha_cf(settings))
    assert (parsed.keepalive_ms, parsed.deadtime_ms, parsed.warntime_ms) == (500, 3000, 2000)


def test_ha_cf_error_names_the_role_variable_and_list_item():
    settings = dict(LAB_HA_CF, media=[{"type": "bcast", "interfaces": ["eth0", "bad name"]}])
    with pytest.raises(AnsibleFilterError) as err:
        hbf.ha_cf(settings, ROLE_VARIABLES)
    assert "heartbeat_media[0].interfaces[1]" in str(err.value)


def test_ha_cf_inconsistent_times_name_the_variable():
    with pytest.raises(AnsibleFilterError) as err:
        hbf.ha_cf(dict(LAB_HA_CF, keepalive=5, deadtime=10), ROLE_VARIABLES)
    message = str(err.value)
    assert "heartbeat_deadtime" in message
    assert "too small" in message


def test_ha_cf_extra_error_uses_its_own_variable():
    with pytest.raises(AnsibleFilterError) as err:
        hbf.ha_cf(dict(LAB_HA_CF, extra=[["keepalive", "3"]]), ROLE_VARIABLES)
    assert "heartbeat_ha_cf_extra[0]" in str(err.value)


def test_ha_cf_without_variables_names_the_renderer_path():
    with pytest.raises(AnsibleFilterError) as err:
        hbf.ha_cf(dict(LAB_HA_CF, udpport=70000))
    assert "ha_cf.udpport" in str(err.value)


def test_ha_cf_rejects_a_non_mapping():
    with pytest.raises(AnsibleFilterError, match="mapping"):
        hbf.ha_cf(["keepalive", 2])


# ----------------------------------------------------------------------------------------- haresources


def test_haresources_from_resource_dicts_is_the_tutorial_line():
    text = hbf.haresources(LAB_GROUPS, ["web1", "web2"], ROLE_VARIABLES)
    assert text == "web1 IPaddr::10.213.10.50/24/eth0 apache2\n"
    groups = hc.parse_haresources(text, nodes=["web1", "web2"])
    assert groups[0].resources[1].name == "apache2"


def test_haresources_unknown_node_names_the_group():
    groups = [dict(LAB_GROUPS[0], node="web3")]
    with pytest.raises(AnsibleFilterError) as err:
        hbf.haresources(groups, ["web1", "web2"], ROLE_VARIABLES)
    assert "heartbeat_resource_groups[0].node" in str(err.value)
    assert "web3" in str(err.value)


def test_haresources_bad_resource_names_the_resource():
    groups = [{"node": "web1", "resources": ["apache2", "IPaddr::300.1.1.1/24/eth0"]}]
    with pytest.raises(AnsibleFilterError) as err:
        hbf.haresources(groups, ["web1", "web2"], ROLE_VARIABLES)
    assert "heartbeat_resource_groups[0].resources[1]" in str(err.value)


def test_haresources_several_groups_keep_order():
    groups = [
        {"node": "web1", "resources": ["IPaddr2::10.0.0.5/24/eth0"]},
        {"node": "web2", "resources": [{"type": "raw", "word": "Filesystem::/dev/sdb1::/srv::ext4"}]},
    ]
    assert hbf.haresources(groups).splitlines() == [
        "web1 IPaddr2::10.0.0.5/24/eth0",
        "web2 Filesystem::/dev/sdb1::/srv::ext4",
    ]


# -------------------------------------------------------------------------------------------- authkeys


def test_authkeys_tutorial_form():
    text = hbf.authkeys({"active": 3, "keys": {3: {"method": "md5", "key": "lab-only"}}}, ROLE_VARIABLES)
    assert text == "auth 3\n3 md5 lab-only\n"


def test_authkeys_error_names_the_variable_but_never_the_key():
    secret = "two words"
    with pytest.raises(AnsibleFilterError) as err:
        hbf.authkeys({"active": 3, "keys": {3: {"method": "md5", "key": secret}}}, ROLE_VARIABLES)
    assert "heartbeat_auth_key" in str(err.value)
    assert secret not in str(err.value)


def test_authkeys_bad_method_names_the_method_variable():
    with pytest.raises(AnsibleFilterError) as err:
        hbf.authkeys({"active": 3, "keys": {3: {"method": "sha256", "key": "k"}}}, ROLE_VARIABLES)
    assert "heartbeat_auth_method" in str(err.value)


# ---------------------------------------------------------------------------------------------- hb_msec


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2, 2000), (0.5, 500), ("500ms", 500), ("10", 10000), ("1.5", 1500), ("250000us", 250), ("20s", None)],
)
def test_hb_msec(value, expected):
    if expected is None:
        with pytest.raises(AnsibleFilterError, match="heartbeat_keepalive"):
            hbf.hb_msec(value, "heartbeat_keepalive")
    else:
        assert hbf.hb_msec(value, "heartbeat_keepalive") == expected


@pytest.mark.parametrize("value", [True, None, [2], "", "ms"])
def test_hb_msec_refuses_non_times(value):
    with pytest.raises(AnsibleFilterError, match="heartbeat_deadtime"):
        hbf.hb_msec(value, "heartbeat_deadtime")


# ------------------------------------------------------------------------------------- resource words


@pytest.mark.parametrize(
    ("resource", "word"),
    [
        (
            {"type": "IPaddr", "address": "10.0.0.5", "cidr": 24, "interface": "eth0"},
            "IPaddr::10.0.0.5/24/eth0",
        ),
        ({"type": "IPaddr2", "address": "10.0.0.5", "cidr": 24}, "IPaddr2::10.0.0.5/24"),
        ({"type": "IPaddr", "address": "10.0.0.5"}, "IPaddr::10.0.0.5"),
        (
            {
                "type": "IPaddr",
                "address": "10.0.0.5",
                "cidr": 24,
                "interface": "eth1",
                "broadcast": "10.0.0.255",
            },
            "IPaddr::10.0.0.5/24/eth1/10.0.0.255",
        ),
        ({"type": "service", "name": "apache2"}, "apache2"),
        ({"type": "raw", "word": "MailTo::root::failover"}, "MailTo::root::failover"),
        ("Delay::5::0", "Delay::5::0"),
    ],
)
def test_hb_resource_word(resource, word):
    assert hbf.hb_resource_word(resource) == word


@pytest.mark.parametrize(
    ("resource", "blamed"),
    [
        ({"type": "nfs"}, "r.type"),
        ({"type": "service"}, "r.name"),
        ({"type": "service", "name": "apache 2"}, "r.name"),
        ({"type": "IPaddr", "address": "10.0.0.5", "interface": "eth0"}, "r.cidr"),
        ({"type": "IPaddr", "address": "10.0.0.5", "nic": "eth0"}, "nic"),
        ({"type": "raw", "word": "two words"}, "r.word"),
    ],
)
def test_hb_resource_word_errors_name_the_key(resource, blamed):
    with pytest.raises(AnsibleFilterError) as err:
        hbf.hb_resource_word(resource, "r")
    assert blamed in str(err.value)


def test_hb_ip_resources_understands_dicts_and_words():
    groups = [
        {
            "node": "web1",
            "resources": [
                {"type": "IPaddr", "address": "10.0.0.5", "cidr": 24, "interface": "eth0"},
                "apache2",
                "IPaddr2::10.0.1.6/255.255.255.0/eth1",
                "10.0.2.7",
                "IPaddr::10.0.3.8/24/10.0.3.255",
            ],
        }
    ]
    found = hbf.hb_ip_resources(groups)
    assert [(r["variable"], r["type"], r["address"], r["cidr"], r["interface"]) for r in found] == [
        ("heartbeat_resource_groups[0].resources[0]", "IPaddr", "10.0.0.5", 24, "eth0"),
        ("heartbeat_resource_groups[0].resources[2]", "IPaddr2", "10.0.1.6", 24, "eth1"),
        ("heartbeat_resource_groups[0].resources[3]", "IPaddr", "10.0.2.7", None, None),
        ("heartbeat_resource_groups[0].resources[4]", "IPaddr", "10.0.3.8", 24, None),
    ]


def test_hb_ip_resources_bad_word_names_it():
    with pytest.raises(AnsibleFilterError, match=r"heartbeat_resource_groups\[0\]\.resources\[0\]"):
        hbf.hb_ip_resources([{"node": "web1", "resources": ["IPaddr::10.0.0/24"]}])


# ------------------------------------------------------------------------------------ interface facts

FACTS = {
    "interfaces": ["lo", "eth0", "eth1_2"],
    "eth0": {
        "device": "eth0",
        "ipv4": {"address": "10.213.40.11", "netmask": "255.255.255.0"},
        "ipv4_secondaries": [{"address": "172.31.5.1", "netmask": "255.255.0.0"}],
    },
    "lo": {"device": "lo", "ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
    "eth1_2": {"device": "eth1-2"},  # no IPv4 address
    "hostname": "web1",
}


def test_hb_interface_networks_reads_primary_and_secondary_addresses():
    assert hbf.hb_interface_networks(FACTS, "eth0") == ["10.213.40.0/24", "172.31.0.0/16"]


def test_hb_interface_networks_lists_a_network_once():
    facts = {
        "eth0": {
            "device": "eth0",
            "ipv4": {"address": "10.0.0.11", "netmask": "255.255.255.0"},
            "ipv4_secondaries": [{"address": "10.0.0.50", "netmask": "255.255.255.0"}],
        }
    }
    assert hbf.hb_interface_networks(facts, "eth0") == ["10.0.0.0/24"]


def test_hb_interface_networks_finds_the_device_by_name_not_by_fact_key():
    assert hbf.hb_interface_networks(FACTS, "eth1-2") == []
    assert hbf.hb_interface_networks(FACTS, "eth9") == []


@pytest.mark.parametrize(
    ("address", "inside"),
    [("10.213.40.50", True), ("172.31.200.9", True), ("10.213.41.50", False), ("not-an-ip", False)],
)
def test_hb_in_networks(address, inside):
    assert hbf.hb_in_networks(address, ["10.213.40.0/24", "172.31.0.0/16"]) is inside


def test_hb_media_interfaces_lists_every_device_with_its_variable():
    media = [
        {"type": "bcast", "interfaces": ["eth0", "eth1"]},
        {"type": "ucast", "interface": "eth2", "peer": "10.0.0.2"},
        {"type": "mcast", "interface": "eth3", "group": "239.0.0.1"},
    ]
    assert hbf.hb_media_interfaces(media) == [
        {"variable": "heartbeat_media[0].interfaces[0]", "interface": "eth0"},
        {"variable": "heartbeat_media[0].interfaces[1]", "interface": "eth1"},
        {"variable": "heartbeat_media[1].interface", "interface": "eth2"},
        {"variable": "heartbeat_media[2].interface", "interface": "eth3"},
    ]


def test_hb_interface_networks_without_interface_covers_every_device():
    assert sorted(hbf.hb_interface_networks(FACTS)) == ["10.213.40.0/24", "127.0.0.0/8", "172.31.0.0/16"]


def test_safety_warnings_for_the_role_settings():
    warn = filters()["hb_safety_warnings"]
    crc = {"active": 1, "keys": {1: {"method": "crc"}}}
    warnings = warn(LAB_HA_CF, crc, ROLE_VARIABLES)
    assert warnings[0].startswith("/etc/ha.d/authkeys: index 1 uses crc, which authenticates nothing")
    assert "one heartbeat link (eth0) and no ping node" in warnings[1]
    safe = dict(LAB_HA_CF, ping=["10.213.10.100"])
    assert warn(safe, {"active": 3, "keys": {3: {"method": "sha1", "key": "k"}}}) == []
    with pytest.raises(AnsibleFilterError, match="heartbeat_"):
        warn(dict(LAB_HA_CF, keepalive="soon"), None, ROLE_VARIABLES)
