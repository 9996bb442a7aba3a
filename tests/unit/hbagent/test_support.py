"""No silent ignore: every ha.cf directive hbagent does not implement is named with its line, by
`check-config` and at start; unsafe combinations are warned about; ping/stonith lines are parsed."""

import pytest
from hbagent_helpers import LAB_HA_CF, run_cli, write_config

from hbagent import support
from hbagent.config import AuthKeys, ConfigErrors, PingGroup, StonithDevice, parse_ha_cf, safety_warnings
from hbagent.reload import plan_reload

MIGRATED = (
    "logfile /dev/null\nkeepalive 2\ndeadtime 10\nbcast eth0\nserial /dev/ttyS0\nbaud 19200\n"
    "node web1 web2\nauto_failback on\nrespawn hacluster /usr/lib/heartbeat/ipfail\n"
    "apiauth ipfail gid=haclient uid=hacluster\nwatchdog /dev/watchdog\nucast6 eth0 fe80::1\nping 10.0.0.1\n"
    "logfacility local0\nhbgenmethod time\n"
)


def test_every_ignored_directive_is_named_with_its_line():
    lines = [str(e) for e in support.unimplemented(parse_ha_cf(MIGRATED, "/etc/ha.d/ha.cf"))]
    assert [line.split(": hbagent ignores ")[0] for line in lines] == [
        f"/etc/ha.d/ha.cf:{n}" for n in (5, 6, 9, 10, 11, 12, 14, 15)
    ]
    assert "/etc/ha.d/ha.cf:9: hbagent ignores 'respawn hacluster /usr/lib/heartbeat/ipfail': " in lines[2]
    assert "ipfail's rule is built in when ping nodes are configured" in lines[2]
    assert "serial media are not driven" in lines[0]
    # what hbagent implements is not reported: keepalive, bcast, ping, auto_failback…
    assert not [line for line in lines if "'ping " in line or "'keepalive" in line]


def test_check_config_warns_about_them_and_still_succeeds(tmp_path):
    conf = write_config(tmp_path / "c", ha_cf=MIGRATED)
    result = run_cli("check-config", str(conf))
    assert result.returncode == 0 and result.stdout == ""
    assert f"warning: {conf}/ha.cf:9: hbagent ignores 'respawn" in result.stderr
    single = run_cli("check-config", "--ha-cf", str(conf / "ha.cf"))
    assert (
        single.returncode == 0
        and f"{conf}/ha.cf:11: hbagent ignores 'watchdog /dev/watchdog'" in single.stderr
    )


def test_unsafe_combinations_are_warned_about():
    ha_cf = parse_ha_cf(LAB_HA_CF, "/etc/ha.d/ha.cf")
    warnings = safety_warnings(ha_cf, AuthKeys(1, {1: ("crc", None)}))
    assert warnings[0].startswith("/etc/ha.d/authkeys: index 1 uses crc, which authenticates nothing")
    assert "one heartbeat link (eth0) and no ping node" in warnings[1]
    allowed = safety_warnings(ha_cf, AuthKeys(1, {1: ("crc", None)}), allow_crc=True)
    assert len(allowed) == 1 and "no ping node" in allowed[0]
    assert safety_warnings(parse_ha_cf(LAB_HA_CF + "ping 10.0.0.1\n"), AuthKeys(1, {1: ("sha1", b"k")})) == []
    assert safety_warnings(parse_ha_cf(LAB_HA_CF + "bcast eth1\n")) == []


def test_ping_groups_and_stonith_devices_are_parsed():
    cfg = parse_ha_cf(LAB_HA_CF + "ping_group uplink 10.0.0.1 gw.example\nstonith_host * null web1 web2\n"
                      "stonith external/ipmi /etc/ha.d/ipmi.cfg\nstonith_host web9 null x\n")  # fmt: skip
    assert cfg.ping_groups == [PingGroup("uplink", ["10.0.0.1", "gw.example"])]
    assert cfg.stonith == [
        StonithDevice("stonith_host", "null", "*", "web1 web2"),
        StonithDevice("stonith", "external/ipmi", None, "/etc/ha.d/ipmi.cfg"),
        StonithDevice("stonith_host", "null", "web9", "x"),
    ]
    assert any("stonith_host [web9] is neither '*' nor a node" in w for w in cfg.warnings)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("ping web1", "ping node [web1] is also a cluster node"),
        ("ping 10.0.0.1 10.0.0.1", "ping node [10.0.0.1] given twice (first on line 7)"),
        ("ping bad_host!", "ping: [bad_host!] is not an IPv4 address or host name"),
        ("ping_group uplink", "ping_group: expected 'ping_group <name> <host> [<host>…]'"),
        ("ping_group uplink 1.2.3", "is not an IPv4 address or host name"),
        ("stonith null", "stonith: expected 'stonith <type> <config-file>'"),
        ("stonith_host *", "stonith_host: expected 'stonith_host <node|*> <type> <parameters>'"),
        ("stonith_host * no;pe x", "invalid STONITH device type [no;pe]"),
    ],
)
def test_bad_ping_and_stonith_lines_name_the_line(line, problem):
    with pytest.raises(ConfigErrors) as caught:
        parse_ha_cf(LAB_HA_CF + line + "\n", "/etc/ha.d/ha.cf")
    assert any(e.line == 7 and problem in e.reason for e in caught.value.errors), caught.value


def test_reload_refuses_changes_of_ping_nodes_and_fencing(tmp_path):
    from hbagent.config import load_config

    old = load_config(str(write_config(tmp_path / "a", ha_cf=LAB_HA_CF + "ping 10.0.0.1\n")))
    new = load_config(
        str(write_config(tmp_path / "b", ha_cf=LAB_HA_CF + "ping 10.0.0.2\nstonith_host * null x\n"))
    )
    plan = plan_reload(old, new)
    assert [r.split(": ", 1)[1] for r in plan.refusals] == [
        "ping changed: ping nodes and fencing apply at start; restart hbagent",
        "stonith_host changed: ping nodes and fencing apply at start; restart hbagent",
    ]
