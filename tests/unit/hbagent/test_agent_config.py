"""hbagent.conf (agent-only settings), reload planning and the systemd unit: pure functions."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from hbagent import agentconf, cli, reload, systemd_unit
from hbagent.config import ClusterConfig, ConfigErrors, parse_authkeys, parse_ha_cf, parse_haresources

ROOT = pathlib.Path(__file__).resolve().parents[3]
HA_CF = "keepalive 2\ndeadtime 10\nudpport 694\nbcast eth0\nnode web1 web2\nauto_failback on\n"
VIP_GROUP = "IPaddr::10.0.0.50/24/eth0"
HARESOURCES = f"web1 {VIP_GROUP} apache2\nweb2 10.0.0.51 Filesystem::/dev/sdb1::/srv::ext4\n"


def cluster(ha_cf=HA_CF, haresources=HARESOURCES, authkeys="auth 3\n3 md5 secret\n", directory="/etc/ha.d"):
    parsed = parse_ha_cf(ha_cf, f"{directory}/ha.cf")
    groups = parse_haresources(haresources, f"{directory}/haresources", parsed.nodes)
    return ClusterConfig(parsed, groups, parse_authkeys(authkeys, f"{directory}/authkeys"), directory)


# ---------------------------------------------------------------------------------------------
# hbagent.conf


def test_make_before_break_lines():
    groups = cluster().resources
    text = f"# comment\n\nmake_before_break {VIP_GROUP}   # the web group\nmake_before_break {VIP_GROUP}\n"
    conf = agentconf.parse_agent_conf(text, "/etc/ha.d/hbagent.conf", groups)
    assert conf.make_before_break == [VIP_GROUP]


def test_agent_conf_errors_name_file_and_line():
    groups = cluster().resources
    text = "make_before_break\nmake_before_break 10.0.0.99\nfrobnicate yes\nmake_before_break 10.0.0.51\n"
    with pytest.raises(ConfigErrors) as caught:
        agentconf.parse_agent_conf(text, "/x/hbagent.conf", groups)
    assert [str(e) for e in caught.value.errors] == [
        "/x/hbagent.conf:1: make_before_break needs at least one haresources group key",
        f"/x/hbagent.conf:2: make_before_break: no haresources group has the key [10.0.0.99] "
        f"(group keys: {VIP_GROUP} 10.0.0.51)",
        "/x/hbagent.conf:3: unknown directive [frobnicate] (known: make_before_break, allow_crc, fence_command, "
        "stop_failure)",
        "/x/hbagent.conf:4: make_before_break [10.0.0.51]: the group holds Filesystem, which must never run "
        "on two nodes at once",
    ]


def test_missing_agent_conf_is_empty_and_a_bad_one_is_reported(tmp_path):
    groups = cluster().resources
    assert agentconf.load_agent_conf(str(tmp_path), groups).make_before_break == []
    (tmp_path / "hbagent.conf").write_text("make_before_break nope\n")
    with pytest.raises(ConfigErrors, match=rf"{tmp_path}/hbagent.conf:1: make_before_break: no haresources"):
        agentconf.load_agent_conf(str(tmp_path), groups)


# ---------------------------------------------------------------------------------------------
# what a reload may change


def test_reload_applies_timings_keys_failback_and_group_contents():
    old = cluster()
    new = cluster(
        ha_cf=HA_CF.replace("keepalive 2", "keepalive 500ms").replace("auto_failback on", "auto_failback off")
        + "logfile /var/log/ha-log\nmsgfmt netstring\n",
        haresources=HARESOURCES.replace("apache2", "apache2 MailTo::root"),
        authkeys="auth 4\n3 md5 secret\n4 sha1 newsecret\n",
    )
    plan = reload.plan_reload(old, new, (), [VIP_GROUP])
    assert plan.ok, plan.refusals
    assert plan.changes == [
        "auto_failback on -> off",
        "keepalive 2000ms -> 500ms",
        "logfile None -> /var/log/ha-log",
        "msgfmt (unset) -> netstring",
        "authkeys: auth 3 (keys: 3 md5) -> auth 4 (keys: 3 md5, 4 sha1)",
        f"haresources group {VIP_GROUP}: {VIP_GROUP} apache2 -> {VIP_GROUP} apache2 MailTo::root "
        "(applies at its next start)",
        f"make_before_break (none) -> {VIP_GROUP}",
    ]
    assert all("secret" not in change for change in plan.changes)  # keys never reach the log


def test_reload_refuses_what_needs_a_restart():
    old = cluster()
    new = cluster(
        ha_cf=HA_CF.replace("node web1 web2", "node web1 web3").replace("bcast eth0", "bcast eth1")
        .replace("auto_failback on", "auto_failback legacy"),
        haresources=f"web1 {VIP_GROUP} apache2\nweb1 10.0.0.52\n",
        directory="/cfg",
    )  # fmt: skip
    plan = reload.plan_reload(old, new)
    assert not plan.ok
    assert plan.refusals == [
        "/cfg/ha.cf: node list changed (web1 web2 -> web1 web3): refused, the membership cannot change "
        "while hbagent runs; restart hbagent to apply it",
        "/cfg/ha.cf: media changed (bcast eth0 port 694 -> bcast eth1 port 694): restart hbagent to apply",
        "/cfg/ha.cf: auto_failback on -> legacy changes the resource protocol: restart hbagent to apply",
        "/cfg/haresources: groups added 10.0.0.52; removed 10.0.0.51: local/foreign would no longer name the "
        "same groups on both nodes; restart hbagent on both nodes to apply",
    ]


def test_reload_of_the_same_files_changes_nothing():
    assert reload.plan_reload(cluster(), cluster(), [VIP_GROUP], [VIP_GROUP]) == reload.ReloadPlan()


def test_reload_refuses_a_group_moved_to_the_other_node():
    plan = reload.plan_reload(
        cluster(), cluster(haresources=HARESOURCES.replace("web1 IPaddr", "web2 IPaddr"))
    )
    assert plan.refusals == [
        f"/etc/ha.d/haresources: groups re-assigned {VIP_GROUP}: local/foreign would no longer name the same "
        "groups on both nodes; restart hbagent on both nodes to apply"
    ]


# ---------------------------------------------------------------------------------------------
# standby/takeover --wait: when is a move done


@pytest.mark.parametrize(
    ("command", "which", "rscstatus", "done"),
    [
        ("standby", "all", "none", True),
        ("standby", "all", "local", False),
        ("standby", "all", "transition", False),
        ("standby", "local", "foreign", True),
        ("standby", "failback", "local", True),
        ("standby", "failback", "all", False),
        ("takeover", "all", "all", True),
        ("takeover", "all", "local", False),
        ("takeover", "failback", "local", True),
        ("takeover", "foreign", "local", False),
        ("takeover", "foreign", "all", True),
    ],
)
def test_move_done(command, which, rscstatus, done):
    assert cli._move_done(command, which, rscstatus) is done


# ---------------------------------------------------------------------------------------------
# the systemd unit


def test_print_unit_renders_every_placeholder_of_the_shipped_template():
    shipped = (ROOT / "hbagent" / "data" / "hbagent.service.in").read_text()
    assert "@PYZ@" in shipped and "@PYTHON@" in shipped
    assert "@" not in systemd_unit.unit_text()


def test_the_zipapp_carries_the_unit_template(tmp_path):
    pyz = tmp_path / "hbagent.pyz"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build-agent.py"), str(pyz)], check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    result = subprocess.run([sys.executable, "-I", str(pyz), "print-unit"], capture_output=True, text=True,
                            check=True, timeout=60)  # fmt: skip
    assert result.stdout == systemd_unit.unit_text()


def test_unit_directives():
    lines = systemd_unit.unit_text().splitlines()
    for wanted in (
        "Type=notify",
        "ExecStart=/usr/bin/python3 /usr/local/lib/hakit/hbagent.pyz run",
        "Conflicts=heartbeat.service",
        "Restart=on-failure",
        "StateDirectory=hbagent",
        "KillMode=mixed",
        "SendSIGKILL=no",
        "NotifyAccess=main",
        "NoNewPrivileges=yes",
        "RestartPreventExitStatus=3",
    ):
        assert wanted in lines
    watchdog = int(next(line for line in lines if line.startswith("WatchdogSec=")).split("=")[1].rstrip("s"))
    stop = next(line for line in lines if line.startswith("TimeoutStopSec=")).split("=")[1]
    assert watchdog >= 10 and stop == "infinity"  # hbagent bounds its own stops; with SendSIGKILL=no
    custom = systemd_unit.unit_text("/opt/hbagent.pyz", "/usr/local/bin/python3.11")
    assert "ExecStart=/usr/local/bin/python3.11 /opt/hbagent.pyz run" in custom.splitlines()
    with pytest.raises(ValueError, match="--pyz must be an absolute path"):
        systemd_unit.unit_text("hbagent.pyz")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    unit = tmp_path / "hbagent.service"
    unit.write_text(systemd_unit.unit_text(pyz=str(tmp_path / "hbagent.pyz"), python="/bin/true"))
    (tmp_path / "hbagent.pyz").write_text("")
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    problems = [line for line in result.stderr.splitlines() if "hbagent.service" in line]
    assert problems == [], result.stderr


def test_check_config_checks_hbagent_conf(tmp_path):
    conf = tmp_path / "ha.d"
    conf.mkdir()
    (conf / "ha.cf").write_text(HA_CF)
    (conf / "haresources").write_text(HARESOURCES)
    (conf / "authkeys").write_text("auth 3\n3 md5 secret\n")
    (conf / "authkeys").chmod(0o600)
    (conf / "hbagent.conf").write_text(f"make_before_break {VIP_GROUP}\n")

    def check():
        return subprocess.run([sys.executable, "-m", "hbagent", "check-config", str(conf)], capture_output=True,
                              text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)  # fmt: skip

    assert check().returncode == 0
    (conf / "hbagent.conf").write_text("# web\nmake_before_break 10.0.0.51\n")
    result = check()
    assert result.returncode == 1
    assert result.stdout == (f"{conf}/hbagent.conf:2: make_before_break [10.0.0.51]: the group holds Filesystem, "
                             "which must never run on two nodes at once\n")  # fmt: skip


def test_check_config_checks_a_single_hbagent_conf_against_a_haresources(tmp_path, capsys):
    (tmp_path / "haresources").write_text(HARESOURCES)
    key = parse_haresources(HARESOURCES)[0].key
    good = tmp_path / "hbagent.conf"
    good.write_text(f"make_before_break {key}\n")
    args = ["check-config", "--hbagent-conf", str(good), "--haresources-from", str(tmp_path / "haresources")]
    assert cli.main(args) == 0
    bad = tmp_path / "bad.conf"
    bad.write_text("make_before_break IPaddr::10.9.9.9/24/eth0\n")
    assert cli.main(["check-config", "--hbagent-conf", str(bad), "--haresources-from",
                     str(tmp_path / "haresources")]) == 1  # fmt: skip
    assert f"{bad}:1:" in capsys.readouterr().out


def test_allow_crc_is_an_explicit_yes_or_no():
    assert agentconf.parse_agent_conf("allow_crc yes\n", "/x/hbagent.conf", []).allow_crc is True
    assert agentconf.parse_agent_conf("allow_crc off\n", "/x/hbagent.conf", []).allow_crc is False
    assert agentconf.parse_agent_conf("", "/x/hbagent.conf", []).allow_crc is False
    for text in ("allow_crc\n", "allow_crc maybe\n", "allow_crc yes no\n"):
        with pytest.raises(ConfigErrors) as info:
            agentconf.parse_agent_conf(text, "/x/hbagent.conf", [])
        assert [str(e) for e in info.value.errors] == [
            "/x/hbagent.conf:1: allow_crc takes one value: yes or no"
        ]


def test_reload_reports_an_allow_crc_change():
    plan = reload.plan_reload(cluster(), cluster(), (), (), False, True)
    assert plan.ok and plan.changes == ["allow_crc no -> yes"]


def test_fence_command_and_stop_failure_in_hbagent_conf():
    groups = cluster().resources
    conf = agentconf.parse_agent_conf(
        "fence_command /usr/local/sbin/fence-peer --hard\nstop_failure reboot\n", "/x/hbagent.conf", groups
    )
    assert conf.fence_command == (["/usr/local/sbin/fence-peer", "--hard"], "/x/hbagent.conf:1")
    assert conf.reboot_on_stop_failure == ["/sbin/reboot", "-n", "-f"]  # 3.0.6's reboot
    custom = agentconf.parse_agent_conf("stop_failure reboot /usr/local/sbin/hard-reset now\n", "/x", groups)
    assert custom.reboot_on_stop_failure == ["/usr/local/sbin/hard-reset", "now"]
    assert agentconf.parse_agent_conf("stop_failure block\n", "/x", groups).reboot_on_stop_failure is None
    assert agentconf.parse_agent_conf("", "/x", groups).reboot_on_stop_failure is None  # the default


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fence_command\n", "fence_command needs an absolute program path"),
        ("fence_command fence-peer\n", "fence_command needs an absolute program path"),
        ("stop_failure\n", "expected 'stop_failure block' or 'stop_failure reboot"),
        ("stop_failure explode\n", "expected 'stop_failure block' or 'stop_failure reboot"),
        ("stop_failure block now\n", "stop_failure block takes no command"),
        ("stop_failure reboot reboot -f\n", "the command must be an absolute path, not [reboot]"),
    ],
)
def test_bad_fence_and_stop_failure_lines_name_the_line(text, problem):
    with pytest.raises(ConfigErrors) as caught:
        agentconf.parse_agent_conf(text, "/x/hbagent.conf", cluster().resources)
    (error,) = caught.value.errors
    assert error.line == 1 and problem in error.reason
