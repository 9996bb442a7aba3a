"""heartbeat_config: Heartbeat 3.0.6 syntax, semantics, errors and the renderers."""

import importlib.util
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULE_PATH = ROOT / "plugins" / "module_utils" / "heartbeat_config.py"


def _load_standalone():
    # AnsiballZ ships the file alone: it must import without the collection or hbagent around it
    spec = importlib.util.spec_from_file_location("heartbeat_config_standalone", MODULE_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


hc = _load_standalone()

LAB_HA_CF = """\
# /etc/ha.d/ha.cf of the reference lab
logfile /var/log/ha-log
keepalive 2
deadtime 10
bcast eth0
node web1 web2
auto_failback on
"""
LAB_HARESOURCES = "web1 IPaddr::10.213.10.50/24/eth0\nweb1 apache2\n"
LAB_AUTHKEYS = "auth 3\n3 md5 mot_de_passe\n"


def errors_of(func, *args, **kwargs):
    with pytest.raises(hc.ConfigErrors) as info:
        func(*args, **kwargs)
    return info.value.errors


def one_error(func, *args, **kwargs):
    errors = errors_of(func, *args, **kwargs)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def ha_cf(extra: str, base: str = "bcast eth0\nnode web1 web2\n") -> str:
    return base + extra


# ---------------------------------------------------------------------------------------------
# module hygiene


def test_module_imports_nothing_from_ansible_or_hbagent():
    source = MODULE_PATH.read_text()
    assert "ansible" not in [
        line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith("import ")
    ]
    assert "from ansible" not in source and "import ansible" not in source
    assert "hbagent" not in [line.split()[1] for line in source.splitlines() if line.startswith("from ")]


def test_hbagent_config_is_a_relative_symlink_to_the_module():
    link = ROOT / "hbagent" / "config.py"
    assert link.is_symlink()
    assert os.readlink(link) == "../plugins/module_utils/heartbeat_config.py"
    assert link.resolve() == MODULE_PATH


def test_error_string_forms():
    assert str(hc.ConfigError("/etc/ha.d/ha.cf", 4, "boom")) == "/etc/ha.d/ha.cf:4: boom"
    assert str(hc.ConfigError("ha_cf.deadtime", None, "boom")) == "ha_cf.deadtime: boom"
    many = hc.ConfigErrors([hc.ConfigError("a", 1, "x"), hc.ConfigError("b", None, "y")])
    assert str(many) == "a:1: x\nb: y"
    assert isinstance(many, ValueError) and isinstance(many.errors[0], ValueError)


# ---------------------------------------------------------------------------------------------
# ha.cf: syntax and semantics


def test_lab_ha_cf_values_and_derived_defaults():
    cfg = hc.parse_ha_cf(LAB_HA_CF)
    assert cfg.nodes == ["web1", "web2"]
    assert (cfg.keepalive_ms, cfg.deadtime_ms, cfg.warntime_ms, cfg.initdead_ms) == (2000, 10000, 5000, 20000)
    assert cfg.udpport == 694
    assert cfg.media == [hc.Medium("bcast", "eth0", None, 694)]
    assert cfg.media[0].line == 5 and cfg.media[0].name == "eth0"
    assert cfg.auto_failback == "on"
    assert cfg.logfile == "/var/log/ha-log"
    assert (cfg.crm, cfg.msgfmt, cfg.hopfudge, cfg.max_rexmit_delay_ms) == ("off", "classic", 1, 250)
    assert ("node", "web2", 6) in cfg.directives
    assert cfg.get("deadtime") == "10" and cfg.get("nope", "x") == "x"


def test_3_0_6_defaults_when_absent():
    cfg = hc.parse_ha_cf("ucast eth0 10.213.30.2\nnode a\n")
    assert (cfg.keepalive_ms, cfg.deadtime_ms, cfg.warntime_ms, cfg.initdead_ms) == (
        1000,
        30000,
        15000,
        30000,
    )
    assert cfg.auto_failback == "legacy"
    assert any("legacy" in w for w in cfg.warnings)


@pytest.mark.parametrize(
    ("deadtime", "initdead"),
    [("10", 20000), ("5", 12000), ("6", 12000), ("11", 11000), ("30", 30000), ("8", 16000)],
)
def test_initdead_derivation(deadtime, initdead):
    cfg = hc.parse_ha_cf(ha_cf(f"keepalive 1\ndeadtime {deadtime}\n"))
    assert cfg.initdead_ms == initdead


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2", 2000), ("0.5", 500), (".25", 250), ("1.", 1000), ("500ms", 500), ("500MS", 500),
        ("500msec", 500), ("1500us", 2), ("1499usec", 1), ("499us", 0), ("0.001", 1), ("2.0005", 2001),
    ],
)  # fmt: skip
def test_time_units(text, ms):
    assert hc.parse_msec(text) == ms


@pytest.mark.parametrize("text", ["", "ms", "2s", "2 sec", "-1", "1e3", "abc", "2m"])
def test_time_units_refused(text):
    assert hc.parse_msec(text) is None


def test_comments_and_value_separators():
    cfg = hc.parse_ha_cf(
        "  # full comment\n"
        "\tkeepalive 500ms # trailing comment\n"
        "deadtime\t2\n"
        "node web1,web2\tWEB3 , web4\n"
        "bcast eth0,eth1 eth2#eth3\n"
        "\n"
    )
    assert cfg.nodes == ["web1", "web2", "web3", "web4"]
    assert [m.dev for m in cfg.media] == ["eth0", "eth1", "eth2"]
    assert cfg.keepalive_ms == 500 and cfg.deadtime_ms == 2000


@pytest.mark.parametrize(
    ("value", "expected"),
    [("on", "on"), ("Yes", "on"), ("1", "on"), ("y", "on"), ("TRUE", "on"), ("off", "off"), ("no", "off"),
     ("N", "off"), ("0", "off"), ("false", "off"), ("legacy", "legacy"), ("LEGACY", "legacy")],
)  # fmt: skip
def test_auto_failback_values(value, expected):
    assert hc.parse_ha_cf(ha_cf(f"auto_failback {value}\n")).auto_failback == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("on", "off"), ("yes", "off"), ("off", "legacy"), ("0", "legacy")]
)
def test_obsolete_nice_failback_maps_to_auto_failback(value, expected):
    cfg = hc.parse_ha_cf(ha_cf(f"nice_failback {value}\n"))
    assert cfg.auto_failback == expected
    assert any("nice_failback flag is obsolete" in w for w in cfg.warnings)


def test_udp_is_an_alias_for_bcast():
    cfg = hc.parse_ha_cf("udp eth1\nnode a\n")
    assert cfg.media == [hc.Medium("bcast", "eth1", None, 694)]
    assert any("'udp' replaced by 'bcast'" in w for w in cfg.warnings)


def test_udpport_applies_to_following_media():
    cfg = hc.parse_ha_cf(
        "udpport 7000\nbcast eth0\nucast eth1 10.213.30.12 ignored\nmcast eth2 239.1.2.3 7001 2 1\nnode a\n"
    )
    assert cfg.udpport == 7000
    assert cfg.media == [
        hc.Medium("bcast", "eth0", None, 7000),
        hc.Medium("ucast", "eth1", "10.213.30.12", 7000),
        hc.Medium("mcast", "eth2", "239.1.2.3", 7001, 2, 1),
    ]
    assert any("one peer per line" in w for w in cfg.warnings)


def test_other_directives_are_validated_and_recorded():
    cfg = hc.parse_ha_cf(
        ha_cf(
            "msgfmt netstring\nhopfudge 2\nmax_rexmit_delay 400\nlogfacility local0\nuse_logd yes\n"
            "crm off\nping 10.213.30.1\nrespawn hacluster /usr/lib/heartbeat/ipfail\nhbgenmethod time\n"
            "uuidfrom nodename\ncompression bz2\ncompression_threshold 4\ntraditional_compression yes\n"
            "debugfile /var/log/ha-debug\nbaud 19200\nenv A=b\ndebug 3\nwarntime 6\nserial /dev/ttyS0\n"
            "apiauth ping gid=haclient uid=alan,root\ncluster lab\ndeadping 40\n"
        )
    )
    assert (cfg.msgfmt, cfg.hopfudge, cfg.max_rexmit_delay_ms, cfg.logfacility) == (
        "netstring",
        2,
        400,
        "local0",
    )
    assert cfg.use_logd is True and cfg.crm == "off" and not cfg.crm_enabled
    assert cfg.ping == ["10.213.30.1"]
    assert ("respawn", "hacluster /usr/lib/heartbeat/ipfail", 10) in cfg.directives
    assert ("apiauth", "ping gid=haclient uid=alan,root", 22) in cfg.directives
    assert (cfg.hbgenmethod, cfg.uuidfrom, cfg.compression) == ("time", "nodename", "bz2")
    assert cfg.compression_threshold_kib == 4 and cfg.traditional_compression is True
    assert cfg.debugfile == "/var/log/ha-debug"
    assert cfg.warntime_ms == 6000 and cfg.deadping_ms == 40000
    assert [m.kind for m in cfg.media] == ["bcast"]  # serial is a medium for Heartbeat, not for hbagent


@pytest.mark.parametrize("value", ["on", "respawn", "yes", "manual"])
def test_crm_values(value):
    cfg = hc.parse_ha_cf(ha_cf(f"crm {value}\n"))
    assert cfg.crm_enabled


def test_only_serial_or_ipv6_media_still_count_as_media():
    cfg = hc.parse_ha_cf("ucast6 eth0 fe80::1\nnode a\n")
    assert cfg.media == []


# ---------------------------------------------------------------------------------------------
# ha.cf: every error path


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("frobnicate 1\n", 1, "Illegal directive [frobnicate] in /etc/ha.d/ha.cf"),
        ("keepalive\n", 1, "directive keepalive needs a value"),
        ("keepalive , \n", 1, "directive keepalive needs a value"),
        ("crm off\npacemaker on\n", 2, "crm/pacemaker may be given only once"),
        ("msgfmt xml\n", 1, "msgfmt: invalid value [xml], expected one of: classic, netstring"),
        ("autojoin some\n", 1, "autojoin: invalid value [some]"),
        ("keepalive 2s\n", 1, "keepalive: invalid time [2s]"),
        ("keepalive 0\n", 1, "keepalive: invalid time [0]"),
        ("warntime 0\n", 1, "warntime: invalid time [0]"),
        ("deadtime -3\n", 1, "deadtime: invalid time [-3]"),
        ("node " + "x" * 100 + "\n", 1, "is too long (max 99 characters)"),
        ("node WEB1\n", 1, "node web1 is listed twice"),
        ("udpport http\n", 1, "udpport: invalid port [http] specified"),
        ("udpport 70000\n", 1, "udpport: invalid port [70000] specified"),
        ("udpport 700\n", 1, "udpport setting must precede media statements (first medium on line 1)"),
        ("bcast eth0/1\n", 1, "bcast: invalid interface name [eth0/1]"),
        ("bcast averyveryverylongname0\n", 1, "bcast: invalid interface name"),
        ("use_logd perhaps\n", 1, "use_logd: invalid boolean [perhaps]"),
        ("nice_failback sometimes\n", 1, "nice_failback: invalid boolean [sometimes]"),
        ("auto_failback maybe\n", 1, "auto_failback: invalid value [maybe], expected on, off or legacy"),
        ("crm always\n", 1, "crm: invalid value [always]"),
        ("hopfudge x\n", 1, "hopfudge: invalid number [x]"),
        ("hopfudge 256\n", 1, "hopfudge: must be between 0 and 255"),
        ("debug 300\n", 1, "debug: must be between 0 and 255"),
        ("max_rexmit_delay 0\n", 1, "max_rexmit_delay: must be a positive number"),
        ("compression_threshold -1\n", 1, "compression_threshold: must be a positive number"),
        ("logfacility daemons\n", 1, "logfacility: Log facility(daemons) not valid"),
        ("baud 1200\n", 1, "baud: invalid baudrate [1200] specified"),
        ("env NOEQUALS\n", 1, "env: expected NAME=value"),
        ("mcast eth0 239.0.0.1 694 1\n", 1, "mcast: expected 'mcast <dev> <group> <port> <ttl> <loop>'"),
        ("mcast eth/0 239.0.0.1 694 1 0\n", 1, "mcast: invalid interface name [eth/0]"),
        ("mcast eth0 10.0.0.1 694 1 0\n", 1, "mcast: [10.0.0.1] is not an IPv4 multicast address"),
        ("mcast eth0 239.0.0.1 0 1 0\n", 1, "mcast: invalid port [0]"),
        ("mcast eth0 239.0.0.1 694 5 0\n", 1, "mcast: ttl must be 0..4, got [5]"),
        ("mcast eth0 239.0.0.1 694 1 2\n", 1, "mcast: loop must be 0 or 1, got [2]"),
        ("ucast eth0\n", 1, "ucast: expected 'ucast <dev> <peer-address>'"),
        ("ucast eth/0 10.0.0.2\n", 1, "ucast: invalid interface name [eth/0]"),
        ("ucast eth0 10.0.0.999\n", 1, "ucast: invalid peer address [10.0.0.999]"),
        ("ucast eth0 -peer\n", 1, "ucast: invalid peer address [-peer]"),
        ("keepalive 5\ndeadtime 10\n", 2, "Dead time [10000] is too small compared to keeplive [5000]"),
        ("keepalive 20\n", 1, "Dead time [30000] is too small compared to keeplive [20000]"),
        ("deadtime 10\ninitdead 5\n", 2, "Initial dead time [5000] is smaller than deadtime [10000]"),
        (
            "keepalive 2\ndeadtime 10\ndeadping 3\n",
            3,
            "Ping dead time [3000] is too small compared to keeplive",
        ),
        ("use_logd off\n", 1, "No log entry found in ha.cf and use_logd is set to off"),
        ("autojoin any\n", 1, "R1 style resource management conflicts with autojoin set"),
    ],
)
def test_ha_cf_errors(text, line, reason):
    error = one_error(hc.parse_ha_cf, "bcast eth0\nnode web1\n" + text)
    assert error.path == "/etc/ha.d/ha.cf"
    assert reason in error.reason
    assert error.line == line + 2, str(error)


def test_ha_cf_without_media_or_nodes():
    errors = errors_of(hc.parse_ha_cf, "keepalive 1\n", "/tmp/x/ha.cf")
    assert [str(e) for e in errors] == [
        "/tmp/x/ha.cf: No heartbeat media defined (bcast, mcast or ucast)",
        "/tmp/x/ha.cf: no nodes defined (node directive)",
    ]


def test_ha_cf_reports_every_error_at_once_in_file_order():
    errors = errors_of(hc.parse_ha_cf, "bogus 1\nkeepalive x\nbcast eth0\nnode a\nudpport 1\nmsgfmt y\n")
    assert [e.line for e in errors] == [1, 2, 5, 6]


def test_too_many_nodes_and_media():
    nodes = "".join(f"node n{i}\n" for i in range(101))
    error = one_error(hc.parse_ha_cf, "bcast eth0\n" + nodes)
    assert error.line == 102 and "too many nodes (max 100)" in error.reason
    media = (
        "".join(f"ucast eth0 10.0.{i // 250}.{i % 250 + 1}\n" for i in range(64))
        + "bcast eth1\nucast eth0 10.1.1.1\n"
    )
    errors = errors_of(hc.parse_ha_cf, "node a\n" + media)
    assert [e.line for e in errors] == [66, 67]
    assert all("Too many media specified (> 64)" in e.reason for e in errors)


# ---------------------------------------------------------------------------------------------
# haresources


def test_lab_haresources():
    groups = hc.parse_haresources(LAB_HARESOURCES, nodes=["web1", "web2"])
    assert [g.key for g in groups] == ["IPaddr::10.213.10.50/24/eth0", "apache2"]
    assert groups[0].resources == [
        hc.Resource("IPaddr::10.213.10.50/24/eth0", "IPaddr", ["10.213.10.50/24/eth0"])
    ]
    assert groups[1].resources == [hc.Resource("apache2", "apache2", [])]
    assert [g.line for g in groups] == [1, 2]


def test_haresources_syntax():
    text = (
        "# comment\n"
        "\n"
        "WEB2   10.213.10.51 \\\n"
        "   Filesystem::/dev/sdb1::/srv::ext4 \\\n"
        "\tapache2   # trailing comment\n"
        "web1 IPaddr2::10.213.10.52/255.255.255.0/eth0/10.213.10.255 MailTo::root@example.invalid::Sub\n"
    )
    groups = hc.parse_haresources(text, nodes=["web1", "Web2"])
    assert groups[0].node == "web2" and groups[0].line == 3 and groups[0].key == "10.213.10.51"
    assert groups[0].resources == [
        hc.Resource("10.213.10.51", "IPaddr", ["10.213.10.51"]),
        hc.Resource("Filesystem::/dev/sdb1::/srv::ext4", "Filesystem", ["/dev/sdb1", "/srv", "ext4"]),
        hc.Resource("apache2", "apache2", []),
    ]
    assert groups[1].resources[0].name == "IPaddr2"
    assert groups[1].resources[1].args == ["root@example.invalid", "Sub"]


def test_haresources_without_nodes_skips_node_check():
    assert hc.parse_haresources("anyone apache2\n")[0].node == "anyone"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            "web3 apache2\n",
            1,
            "Bad nodename in /etc/ha.d/haresources [web3] (not a node of ha.cf: web1 web2)",
        ),
        ("web1\n", 1, "no resources listed for node web1"),
        ("web1 apache2 \\ \nnfs\n", 1, "text or whitespace after the line-continuation backslash"),
        ("web1 apache2 \\\n", 1, "line continuation backslash at end of file"),
        ("web1 ::a\n", 1, "invalid resource script name [] in [::a]"),
        ("web1 ../evil\n", 1, "invalid resource script name [../evil]"),
        ("web1 Filesystem::a::::b\n", 1, "empty argument in [Filesystem::a::::b]"),
        ("web1 IPaddr\n", 1, "IPaddr: needs an address argument"),
        ("web1 IPaddr::10.0.0.300/24\n", 1, "[10.0.0.300] is not an IPv4 address"),
        ("web1 10.0.0.300\n", 1, "[10.0.0.300] is not an IPv4 address"),
        ("web1 IPaddr2::10.0.0.3/33\n", 1, "invalid netmask [33]"),
        ("web1 IPaddr::10.0.0.3/24//x\n", 1, "empty interface/broadcast part"),
        ("web1 IPaddr::10.0.0.3/24/eth0/10.0.0.255/x\n", 1, "too many '/' parts"),
        ("web1 apache2\nweb2 apache2\n", 2, "resource group [apache2] already defined on line 1"),
    ],
)
def test_haresources_errors(text, line, reason):
    error = one_error(hc.parse_haresources, text, nodes=["web1", "web2"])
    assert (error.path, error.line) == ("/etc/ha.d/haresources", line)
    assert reason in error.reason


def test_haresources_reports_all_errors():
    errors = errors_of(hc.parse_haresources, "web3 a\nweb1\nweb1 IPaddr::x b::\n", "/x/haresources", ["web1"])
    assert [(e.line, e.path) for e in errors] == [(1, "/x/haresources"), (2, "/x/haresources"), (3, "/x/haresources"),
                                                  (3, "/x/haresources")]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# authkeys


def test_lab_authkeys():
    keys = hc.parse_authkeys(LAB_AUTHKEYS, mode=0o100600)
    assert keys.active == 3 and keys.keys == {3: ("md5", b"mot_de_passe")}
    assert (keys.method, keys.key) == ("md5", b"mot_de_passe")


def test_authkeys_syntax():
    text = "# keys\n  auth 1 # outgoing\n1 sha1 s3cr#t\n2 crc  # no key\n15 md5 k # note\n0 md5 \xe9t\xe9\n"
    keys = hc.parse_authkeys(text, mode=0o100400)
    assert keys.active == 1
    assert keys.keys == {
        1: ("sha1", b"s3cr#t"),
        2: ("crc", None),
        15: ("md5", b"k"),
        0: ("md5", "été".encode()),
    }


@pytest.mark.parametrize("mode", [0o100600, 0o100400, 0o100620, 0o100200, None])
def test_authkeys_permissions_accepted(mode):
    assert hc.parse_authkeys(LAB_AUTHKEYS, mode=mode).active == 3


@pytest.mark.parametrize("mode", [0o100640, 0o100644, 0o100604, 0o100660])
def test_authkeys_permissions_refused_in_heartbeats_words(mode):
    error = one_error(hc.parse_authkeys, LAB_AUTHKEYS, "/etc/ha.d/authkeys", mode)
    assert (
        str(error) == "/etc/ha.d/authkeys: Bad permissions on keyfile [/etc/ha.d/authkeys], 600 recommended."
    )


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("auth 3\nauth 3\n3 md5 k\n", 2, "auth given twice (first on line 1)"),
        ("auth\n3 md5 k\n", 1, "expected 'auth <n>' (one index)"),
        ("auth 3 4\n3 md5 k\n", 1, "expected 'auth <n>' (one index)"),
        ("auth 16\n3 md5 k\n", 1, "invalid authentication index [16] (0..15)"),
        ("auth x\n3 md5 k\n", 1, "invalid authentication index [x]"),
        ("auth 3\n3 md5 k\n-1 md5 k\n", 3, "invalid authentication index [-1]"),
        ("auth 3\n3 md5 k\n3\n", 3, "Auth line [3] is invalid"),
        ("auth 3\n3 md5 k\n3 sha1 j\n", 3, "authentication index 3 defined twice (first on line 2)"),
        ("auth 3\n3 MD5 k\n", 2, "unknown authentication method [MD5] (crc, md5 or sha1)"),
        ("auth 3\n3 sha256 k\n", 2, "unknown authentication method [sha256]"),
        ("auth 3\n3 crc k\n", 2, "method crc takes no key"),
        ("auth 3\n3 md5\n", 2, "method md5 needs a key"),
        ("auth 3\n3 sha1 # comment\n", 2, "the key must be a single word"),  # Heartbeat: key "#"
        ("auth 3\n3 md5 two words\n", 2, "the key must be a single word (no spaces or tabs)"),
        ("auth 4\n3 md5 k\n", 1, "auth 4: no key line '4 <method> [<key>]' for this index"),
        ("3 md5 k\n", None, "No authentication specified (missing 'auth <n>' line)"),
    ],
)
def test_authkeys_errors(text, line, reason):
    error = one_error(hc.parse_authkeys, text)
    assert (error.path, error.line) == ("/etc/ha.d/authkeys", line)
    assert reason in error.reason


def test_authkeys_bad_active_key_line_is_reported_once():
    errors = errors_of(hc.parse_authkeys, "auth 3\n3 md5\n", mode=0o100644)
    assert [e.line for e in errors] == [None, 2]


# ---------------------------------------------------------------------------------------------
# load_config


def write_dir(tmp_path, ha=LAB_HA_CF, res=LAB_HARESOURCES, keys=LAB_AUTHKEYS, mode=0o600):
    for name, text in (("ha.cf", ha), ("haresources", res), ("authkeys", keys)):
        if text is not None:
            (tmp_path / name).write_text(text)
    if keys is not None:
        os.chmod(tmp_path / "authkeys", mode)
    return str(tmp_path)


def test_load_config(tmp_path):
    cfg = hc.load_config(write_dir(tmp_path))
    assert cfg.ha_cf.nodes == ["web1", "web2"] and cfg.ha_cf.path == str(tmp_path / "ha.cf")
    assert [g.key for g in cfg.resources] == ["IPaddr::10.213.10.50/24/eth0", "apache2"]
    assert cfg.authkeys.active == 3 and cfg.directory == str(tmp_path)


def test_load_config_reads_key_bytes_exactly(tmp_path):
    directory = write_dir(tmp_path, keys=None)
    (tmp_path / "authkeys").write_bytes(b"auth 1\n1 md5 \xff\xfe-raw\n")
    os.chmod(tmp_path / "authkeys", 0o600)
    assert hc.load_config(directory).authkeys.key == b"\xff\xfe-raw"


def test_load_config_collects_errors_of_all_files(tmp_path):
    directory = write_dir(tmp_path, ha=LAB_HA_CF + "bogus x\n", res="web3 apache2\n", mode=0o644)
    errors = errors_of(hc.load_config, directory)
    assert [str(e) for e in errors] == [
        f"{tmp_path}/ha.cf:8: Illegal directive [bogus] in {tmp_path}/ha.cf",
        f"{tmp_path}/authkeys: Bad permissions on keyfile [{tmp_path}/authkeys], 600 recommended.",
        f"{tmp_path}/haresources:1: Bad nodename in {tmp_path}/haresources [web3] (not a node of ha.cf: web1 web2)",
    ]


def test_load_config_missing_files(tmp_path):
    errors = errors_of(hc.load_config, str(tmp_path))
    assert sorted(str(e) for e in errors) == sorted(
        f"{tmp_path}/{name}: cannot read: No such file or directory"
        for name in ("ha.cf", "haresources", "authkeys")
    )


def test_load_config_haresources_optional_with_crm(tmp_path):
    directory = write_dir(tmp_path, ha=LAB_HA_CF + "crm respawn\n", res=None)
    assert hc.load_config(directory).resources == []


# ---------------------------------------------------------------------------------------------
# renderers

ROLE_HA_CF = {
    "nodes": ["web1", "web2"],
    "keepalive": 2,
    "warntime": 5,
    "deadtime": 10,
    "initdead": 20,
    "udpport": 694,
    "media": [
        {"type": "bcast", "interfaces": ["eth0"]},
        {"type": "ucast", "interface": "eth0", "peer": "10.213.10.12"},
        {"type": "mcast", "interface": "eth0", "group": "239.0.0.1", "port": 694, "ttl": 1, "loop": 0},
    ],
    "auto_failback": "on",
    "ping": [],
    "crm": "off",
    "logfile": "/var/log/ha-log",
    "extra": [["use_logd", "no"], ["respawn", "hacluster /usr/libexec/heartbeat/ipfail"]],
}


def test_render_ha_cf_order_and_round_trip():
    text = hc.render_ha_cf(ROLE_HA_CF)
    assert text.splitlines() == [
        "logfile /var/log/ha-log",
        "keepalive 2",
        "warntime 5",
        "deadtime 10",
        "initdead 20",
        "udpport 694",
        "bcast eth0",
        "ucast eth0 10.213.10.12",
        "mcast eth0 239.0.0.1 694 1 0",
        "node web1",
        "node web2",
        "auto_failback on",
        "crm off",
        "use_logd no",
        "respawn hacluster /usr/libexec/heartbeat/ipfail",
    ]
    cfg = hc.parse_ha_cf(text)
    assert cfg.nodes == ROLE_HA_CF["nodes"]
    assert (cfg.keepalive_ms, cfg.warntime_ms, cfg.deadtime_ms, cfg.initdead_ms) == (2000, 5000, 10000, 20000)
    assert [(m.kind, m.dev, m.address) for m in cfg.media] == [
        ("bcast", "eth0", None), ("ucast", "eth0", "10.213.10.12"), ("mcast", "eth0", "239.0.0.1")
    ]  # fmt: skip
    assert cfg.auto_failback == "on" and cfg.use_logd is False
    assert hc.render_ha_cf(ROLE_HA_CF) == text  # deterministic


def test_render_ha_cf_value_forms():
    text = hc.render_ha_cf(
        {
            "nodes": ["a", "b"],
            "keepalive": 0.5,
            "deadtime": "3000ms",
            "initdead": 12.0,
            "media": [{"type": "bcast", "interface": "eth1"}, {"type": "ucast", "interface": "e0", "peers": ["h1", "h2"]},
                      {"type": "mcast", "interface": "e0", "group": "239.1.1.1"}],
            "auto_failback": False,
            "crm": False,
            "ping": ["10.213.30.1"],
            "extra": [["log_badpack", True], ["apiauth", ["ipfail", "uid=hacluster"]]],
        }
    )  # fmt: skip
    assert "keepalive 500ms\n" in text and "deadtime 3000ms\n" in text and "initdead 12\n" in text
    assert "bcast eth1\nucast e0 h1\nucast e0 h2\nmcast e0 239.1.1.1 694 1 0\n" in text
    assert "auto_failback off\n" in text and "crm off\n" in text and "ping 10.213.30.1\n" in text
    assert text.endswith("log_badpack on\napiauth ipfail uid=hacluster\n")
    assert hc.parse_ha_cf(text).keepalive_ms == 500


def bad_render(settings, **changes):
    return {**settings, **changes}


@pytest.mark.parametrize(
    ("changes", "var", "reason"),
    [
        ({"deadtime": 3}, "ha_cf.deadtime", "Dead time [3000] is too small compared to keeplive [2000]"),
        ({"initdead": 5}, "ha_cf.initdead", "Initial dead time [5000] is smaller than deadtime [10000]"),
        ({"keepalive": "2s"}, "ha_cf.keepalive", 'must be seconds (number) or a time such as "500ms"'),
        ({"keepalive": True}, "ha_cf.keepalive", "must be seconds"),
        ({"keepalive": [1]}, "ha_cf.keepalive", "must be seconds"),
        ({"keepalive": 0}, "ha_cf.keepalive", "keepalive: invalid time [0]"),
        ({"udpport": 0}, "ha_cf.udpport", "must be a port number 1..65535"),
        ({"udpport": "x"}, "ha_cf.udpport", "must be a port number"),
        ({"nodes": []}, "ha_cf.nodes", "no nodes defined"),
        ({"nodes": "web1"}, "ha_cf.nodes", "must be a list"),
        ({"nodes": ["web1", "web 2"]}, "ha_cf.nodes[1]", "must be one word"),
        ({"nodes": ["web1", "WEB1"]}, "ha_cf.nodes[1]", "node web1 is listed twice"),
        ({"nodes": ["web1", None]}, "ha_cf.nodes[1]", "must be a node name (string)"),
        ({"media": []}, "ha_cf.media", "No heartbeat media defined"),
        ({"media": ["bcast eth0"]}, "ha_cf.media[0]", "must be a mapping with a 'type'"),
        ({"media": [{"type": "serial"}]}, "ha_cf.media[0].type", "must be bcast, mcast or ucast"),
        ({"media": [{"type": "bcast", "interfaces": []}]}, "ha_cf.media[0].interfaces", "needs at least one"),
        ({"media": [{"type": "bcast", "interfaces": ["eth0#"]}]}, "ha_cf.media[0].interfaces[0]", "one word"),
        (
            {"media": [{"type": "bcast", "interface": "eth0", "dev": "eth0"}]},
            "ha_cf.media[0].dev",
            "unknown key for a bcast medium",
        ),
        ({"media": [{"type": "bcast", "interface": "eth0/1"}]}, "ha_cf.media[0]", "invalid interface name"),
        (
            {"media": [{"type": "ucast", "interface": "eth0"}]},
            "ha_cf.media[0].peer",
            "must be a peer address",
        ),
        (
            {"media": [{"type": "ucast", "interface": "eth0", "peers": []}]},
            "ha_cf.media[0].peers",
            "at least one",
        ),
        (
            {"media": [{"type": "ucast", "interface": "eth0", "peer": "10.0.0.256"}]},
            "ha_cf.media[0].peer",
            "ucast: invalid peer address",
        ),
        (
            {"media": [{"type": "mcast", "interface": "eth0", "group": "10.0.0.1"}]},
            "ha_cf.media[0]",
            "not an IPv4 multicast address",
        ),
        (
            {"media": [{"type": "mcast", "interface": "eth0", "group": "239.0.0.1", "ttl": 9}]},
            "ha_cf.media[0]",
            "ttl must be 0..4",
        ),
        (
            {"media": [{"type": "mcast", "group": "239.0.0.1"}]},
            "ha_cf.media[0].interface",
            "must be a interface",
        ),
        ({"auto_failback": "sometimes"}, "ha_cf.auto_failback", "expected on, off or legacy"),
        ({"crm": "maybe"}, "ha_cf.crm", "crm: invalid value [maybe]"),
        ({"ping": ["a b"]}, "ha_cf.ping[0]", "one word"),
        ({"logfile": "/var/log/ha log"}, "ha_cf.logfile", "one word"),
        ({"logfacility": "nope"}, "ha_cf.logfacility", "Log facility(nope) not valid"),
        ({"extra": [["keepalive", 3]]}, "ha_cf.extra[0]", "'keepalive' is set through ha_cf.keepalive"),
        ({"extra": [["bogus", 1]]}, "ha_cf.extra[0]", "Illegal directive [bogus]"),
        ({"extra": [["msgfmt", "xml"]]}, "ha_cf.extra[0]", "msgfmt: invalid value [xml]"),
        ({"extra": ["use_logd no"]}, "ha_cf.extra[0]", "must be a [directive, value] pair"),
        ({"extra": [["use_logd", "no\nnode x"]]}, "ha_cf.extra[0][1]", "one line, no '#'"),
        ({"extra": [["use_logd", None]]}, "ha_cf.extra[0][1]", "invalid value None"),
        ({"extra": [["apiauth", []]]}, "ha_cf.extra[0][1]", "needs a value"),
        ({"extra": [["apiauth", ["a b"]]]}, "ha_cf.extra[0][1][0]", "one word"),
        ({"extra": [["bad name", 1]]}, "ha_cf.extra[0][0]", "one word"),
        ({"colour": "blue"}, "ha_cf.colour", "unknown setting"),
    ],
)
def test_render_ha_cf_errors_name_the_variable(changes, var, reason):
    errors = errors_of(hc.render_ha_cf, bad_render(ROLE_HA_CF, **changes))
    assert [e.path for e in errors] == [var], [str(e) for e in errors]
    assert reason in errors[0].reason
    assert errors[0].line is None


def test_render_ha_cf_not_a_mapping():
    assert str(one_error(hc.render_ha_cf, ["x"])) == "ha_cf: must be a mapping, got list"


def test_render_ha_cf_reports_all_problems():
    errors = errors_of(hc.render_ha_cf, bad_render(ROLE_HA_CF, keepalive="x", nodes=["a b"], colour=1))
    assert sorted(e.path for e in errors) == ["ha_cf.colour", "ha_cf.keepalive", "ha_cf.nodes[0]"]


def test_render_haresources_round_trip():
    groups = [
        {"node": "web1", "resources": ["IPaddr::10.213.10.50/24/eth0", "apache2"]},
        {"node": "web2", "resources": ["10.213.10.51"]},
    ]
    text = hc.render_haresources(groups, nodes=["web1", "web2"])
    assert text == "web1 IPaddr::10.213.10.50/24/eth0 apache2\nweb2 10.213.10.51\n"
    parsed = hc.parse_haresources(text, nodes=["web1", "web2"])
    assert [[r.word for r in g.resources] for g in parsed] == [g["resources"] for g in groups]
    assert hc.render_haresources([]) == ""


@pytest.mark.parametrize(
    ("groups", "var", "reason"),
    [
        ("web1 apache2", "haresources", "must be a list"),
        (["web1 apache2"], "haresources[0]", "must be a mapping"),
        ([{"node": "web1", "resources": []}], "haresources[0].resources", "needs at least one resource"),
        ([{"node": "web1"}], "haresources[0].resources", "needs at least one resource"),
        ([{"node": "web1", "resources": "apache2"}], "haresources[0].resources", "must be a list"),
        ([{"node": "web 1", "resources": ["a"]}], "haresources[0].node", "one word"),
        (
            [{"node": "web3", "resources": ["a"]}],
            "haresources[0].node",
            "web3 is not a cluster node (web1, web2)",
        ),
        (
            [{"node": "web1", "resources": ["a", "IPaddr::1.2.3/24"]}],
            "haresources[0].resources[1]",
            "[1.2.3] is not an IPv4 address",
        ),
        ([{"node": "web1", "resources": ["a b"]}], "haresources[0].resources[0]", "one word"),
        ([{"node": "web1", "resources": ["a"], "prefer": 1}], "haresources[0].prefer", "unknown key"),
        (
            [{"node": "web1", "resources": ["a"]}, {"node": "web2", "resources": ["a"]}],
            "haresources[1]",
            "resource group [a] already defined on line 1",
        ),
    ],
)
def test_render_haresources_errors(groups, var, reason):
    errors = errors_of(hc.render_haresources, groups, nodes=["web1", "web2"])
    assert [e.path for e in errors] == [var], [str(e) for e in errors]
    assert reason in errors[0].reason


def test_render_authkeys_round_trip():
    settings = {"active": 3, "keys": {3: {"method": "md5", "key": "secret"}, "1": {"method": "crc"},
                                      2: {"method": "sha1", "key": 1234}}}  # fmt: skip
    text = hc.render_authkeys(settings)
    assert text == "auth 3\n3 md5 secret\n1 crc\n2 sha1 1234\n"
    keys = hc.parse_authkeys(text)
    assert keys.active == 3 and keys.keys == {3: ("md5", b"secret"), 1: ("crc", None), 2: ("sha1", b"1234")}


@pytest.mark.parametrize(
    ("settings", "var", "reason"),
    [
        (
            {"active": 16, "keys": {3: {"method": "md5", "key": "k"}}},
            "authkeys.active",
            "must be an index 0..15",
        ),
        ({"active": True, "keys": {3: {"method": "md5", "key": "k"}}}, "authkeys.active", "must be an index"),
        ({"active": 3, "keys": {}}, "authkeys.keys", "must be a non-empty mapping"),
        (
            {"active": 3, "keys": {3: {"method": "md5", "key": "k"}, 99: {"method": "crc"}}},
            "authkeys.keys.99",
            "index must be 0..15",
        ),
        ({"active": 3, "keys": {3: "md5 k"}}, "authkeys.keys.3", "must be a mapping"),
        (
            {"active": 3, "keys": {3: {"method": "rot13", "key": "k"}}},
            "authkeys.keys.3.method",
            "must be one of",
        ),
        (
            {"active": 3, "keys": {3: {"method": "crc", "key": "k"}}},
            "authkeys.keys.3.key",
            "method crc takes no key",
        ),
        ({"active": 3, "keys": {3: {"method": "md5"}}}, "authkeys.keys.3.key", "method md5 needs a key"),
        ({"active": 3, "keys": {3: {"method": "md5", "key": ""}}}, "authkeys.keys.3.key", "needs a key"),
        ({"active": 3, "keys": {3: {"method": "sha1", "key": "a b"}}}, "authkeys.keys.3.key", "single word"),
        (
            {"active": 3, "keys": {3: {"method": "md5", "key": "k", "x": 1}}},
            "authkeys.keys.3.x",
            "unknown key",
        ),
        (
            {"active": 4, "keys": {3: {"method": "md5", "key": "k"}}},
            "authkeys.active",
            "no key line '4 <method>",
        ),
        (
            {"active": 3, "keys": {3: {"method": "md5", "key": "k"}}, "mode": 1},
            "authkeys.mode",
            "unknown setting",
        ),
    ],
)
def test_render_authkeys_errors(settings, var, reason):
    errors = errors_of(hc.render_authkeys, settings)
    assert [e.path for e in errors] == [var], [str(e) for e in errors]
    assert reason in errors[0].reason


def test_render_authkeys_not_a_mapping():
    assert str(one_error(hc.render_authkeys, None)) == "authkeys: must be a mapping, got NoneType"
