"""hbagent daemon and command line: state files, check-config, cl-status against a real process."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest
from hbagent_helpers import LAB_HA_CF, run_cli, write_config

from hbagent import cli, daemon, state
from hbagent.config import parse_ha_cf

ROOT = pathlib.Path(__file__).resolve().parents[3]


# ---------------------------------------------------------------------------------------------
# state and identity


def test_generation_strictly_increases_and_is_stored_like_heartbeat(tmp_path):
    first = state.next_generation(str(tmp_path), now=1000)
    assert first == 1000
    raw = (tmp_path / "hb_generation").read_bytes()
    assert raw == b"%15d\n" % 1000 and len(raw) == 16
    assert state.next_generation(str(tmp_path), now=1000) == 1001  # same second: still larger
    assert state.next_generation(str(tmp_path), now=900) == 1002  # clock went back: still larger
    assert state.next_generation(str(tmp_path), now=5000) == 5000
    (tmp_path / "hb_generation").write_text("garbage\n")
    assert state.next_generation(str(tmp_path), now=7000) == 7000


def test_generation_is_shared_with_heartbeat_so_a_rollback_never_goes_back(tmp_path):
    agent_dir, heartbeat_dir = tmp_path / "hbagent", tmp_path / "heartbeat"
    agent_dir.mkdir(), heartbeat_dir.mkdir()
    # Heartbeat ran first: its counter started at its first start and grew by one per start
    (heartbeat_dir / "hb_generation").write_bytes(b"%15d\n" % 500)
    first = state.next_generation(str(agent_dir), str(heartbeat_dir), now=400)
    assert first == 501
    # the agent then ran on a later clock; Heartbeat's next start (its file + 1) must be above it
    second = state.next_generation(str(agent_dir), str(heartbeat_dir), now=9000)
    assert second == 9000
    assert (heartbeat_dir / "hb_generation").read_bytes() == b"%15d\n" % 9000
    heartbeat_next = int((heartbeat_dir / "hb_generation").read_text()) + 1  # what 3.0.6 would use
    assert heartbeat_next > second
    # and after Heartbeat ran again (it writes its own counter), the agent continues above it
    (heartbeat_dir / "hb_generation").write_bytes(b"%15d\n" % heartbeat_next)
    assert state.next_generation(str(agent_dir), str(heartbeat_dir), now=100) == heartbeat_next + 1


def test_uuid_is_persistent_16_bytes(tmp_path):
    first = state.load_uuid(str(tmp_path))
    assert len(first) == 16 and state.load_uuid(str(tmp_path)) == first
    (tmp_path / "hb_uuid").write_bytes(b"short")
    replaced = state.load_uuid(str(tmp_path))
    assert len(replaced) == 16 and (tmp_path / "hb_uuid").read_bytes() == replaced


def test_uuid_is_heartbeats_own_when_the_node_ran_heartbeat_before(tmp_path):
    agent_dir, heartbeat_dir = tmp_path / "hbagent", tmp_path / "heartbeat"
    agent_dir.mkdir(), heartbeat_dir.mkdir()
    (agent_dir / "hb_uuid").write_bytes(b"A" * 16)
    (heartbeat_dir / "hb_uuid").write_bytes(b"H" * 16)
    assert state.load_uuid(str(agent_dir), str(heartbeat_dir)) == b"H" * 16
    assert (agent_dir / "hb_uuid").read_bytes() == b"H" * 16
    # a node that never ran Heartbeat gives Heartbeat the agent's uuid, for a later switch
    (heartbeat_dir / "hb_uuid").unlink()
    assert state.load_uuid(str(agent_dir), str(heartbeat_dir)) == b"H" * 16
    assert (heartbeat_dir / "hb_uuid").read_bytes() == b"H" * 16


def test_local_node_name(tmp_path):
    assert daemon.local_node_name(str(tmp_path), "WEB1") == "web1"
    (tmp_path / "nodeinfo").write_text("Web2\nignored\n")
    assert daemon.local_node_name(str(tmp_path)) == "web2"
    (tmp_path / "nodeinfo").unlink()
    assert daemon.local_node_name(str(tmp_path)) == os.uname().nodename.lower()


def test_hbparameter_values_follow_cl_status():
    params = daemon.parameters(parse_ha_cf(LAB_HA_CF))
    assert (params["deadtime"], params["keepalive"], params["udpport"]) == ("10", "2", "694")
    assert (params["warntime"], params["initdead"], params["auto_failback"]) == ("5000ms", "20000ms", "on")
    assert params["hbversion"] == "3.0.6" and params["msgfmt"] == "classic"
    assert "node" not in params


# ---------------------------------------------------------------------------------------------
# check-config


def test_check_config_directory(tmp_path):
    good = write_config(tmp_path / "good")
    result = run_cli("check-config", str(good))
    assert (result.returncode, result.stdout) == (0, "")
    bad = write_config(tmp_path / "bad", ha_cf=LAB_HA_CF + "keepalive 6\nbogus 1\n", haresources="web3 x\n",
                       mode=0o644)  # fmt: skip
    result = run_cli("check-config", str(bad))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{bad}/ha.cf:8: Illegal directive [bogus] in {bad}/ha.cf",
        f"{bad}/ha.cf:7: Dead time [10000] is too small compared to keeplive [6000] "
        "(deadtime must be more than twice keepalive)",
        f"{bad}/authkeys: Bad permissions on keyfile [{bad}/authkeys], 600 recommended.",
        f"{bad}/haresources:1: Bad nodename in {bad}/haresources [web3] (not a node of ha.cf: web1 web2)",
    ]


def test_check_config_single_files(tmp_path):
    conf = write_config(tmp_path / "c", haresources="web3 apache2\n")
    assert run_cli("check-config", "--ha-cf", str(conf / "ha.cf")).returncode == 0
    assert run_cli("check-config", "--haresources", str(conf / "haresources")).returncode == 0
    checked = run_cli(
        "check-config", "--haresources", str(conf / "haresources"), "--nodes-from", str(conf / "ha.cf")
    )
    assert checked.returncode == 1 and "Bad nodename" in checked.stdout and ":1:" in checked.stdout
    assert run_cli("check-config", "--authkeys", str(conf / "authkeys")).returncode == 0
    (conf / "authkeys").chmod(0o640)
    keys = run_cli("check-config", "--authkeys", str(conf / "authkeys"))
    assert keys.returncode == 1 and "600 recommended." in keys.stdout
    missing = run_cli("check-config", "--ha-cf", str(tmp_path / "nope"))
    assert (
        missing.returncode == 1
        and missing.stdout == f"{tmp_path}/nope: cannot read: No such file or directory\n"
    )
    assert run_cli("check-config", "--nodes-from", str(conf / "ha.cf")).returncode == 2
    assert run_cli("check-config", str(conf), "--ha-cf", str(conf / "ha.cf")).returncode == 2


def test_check_config_node_and_warnings(tmp_path):
    conf = write_config(tmp_path / "c", ha_cf=LAB_HA_CF.replace("auto_failback on", "nice_failback on"))
    result = run_cli("check-config", str(conf), "--node", "web9")
    assert result.returncode == 1 and "Current node [web9] not in configuration" in result.stdout
    assert "warning: " in result.stderr and "nice_failback flag is obsolete" in result.stderr


# ---------------------------------------------------------------------------------------------
# a real single-node daemon on loopback


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def solo(tmp_path):
    port = free_udp_port()
    conf = write_config(
        tmp_path / "ha.d",
        ha_cf=f"logfile {tmp_path}/ha-log\nkeepalive 200ms\ndeadtime 1\ninitdead 2\nudpport {port}\n"
        "ucast lo 127.0.0.1\nnode solo\n",
        haresources="",
    )
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "hbagent", "run", "--config-dir", str(conf), "--state-dir",
                             str(state), "--node", "solo"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 30
    while not (state / "hbagent.sock").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield proc, state, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def cl_status(state, *args):
    return run_cli("cl-status", "--state-dir", str(state), *args)


def test_single_node_daemon_answers_cl_status(solo):
    proc, state, tmp_path = solo
    assert proc.poll() is None, proc.stdout.read()
    node = cl_status(state, "nodestatus", "solo")
    assert (node.returncode, node.stdout) == (0, "active\n")
    assert cl_status(state, "nodestatus", "-m", "solo").stdout == "The cluster node solo is active\n"
    assert cl_status(state, "hbstatus").stdout == "Heartbeat is running on this machine.\n"
    verbose = cl_status(state, "hbstatus", "-v").stdout.splitlines()
    assert verbose[0].startswith("version:\t3.0.6") and verbose[1] == 'managed by:\t"haresources"'
    assert verbose[2:] == ["", "solo\tactive\t(nodetype: normal)", "\tlo\tup"]
    assert cl_status(state, "listnodes").stdout == "solo\n"
    assert cl_status(state, "listnodes", "-p").stdout == ""
    assert cl_status(state, "nodetype", "solo").stdout == "normal\n"
    assert cl_status(state, "listhblinks", "solo").stdout == "\tlo\n"
    assert cl_status(state, "hblinkstatus", "solo", "lo").stdout == "up\n"
    assert cl_status(state, "rscstatus").stdout == "none\n"
    assert cl_status(state, "hbparameter", "-p", "keepalive").stdout == "200ms\n"
    assert cl_status(state, "hbparameter", "-p", "warntime").stdout == "500ms\n"
    assert cl_status(state, "hbparameter", "-p", "nosuch").returncode == 1
    assert cl_status(state, "clientstatus", "solo", "ipfail").stdout == "offline\n"
    # errors and their exit codes
    unknown = cl_status(state, "nodestatus", "web9")
    assert (unknown.returncode, unknown.stderr) == (11, "Error. May be due to incorrect node name\n")
    assert cl_status(state, "hblinkstatus", "solo", "eth9").returncode == 13
    assert cl_status(state, "numlinks").returncode == 11  # does not exist in 3.0.6
    assert cl_status(state, "nodestatus").returncode == 11
    status = json.loads(run_cli("status", "--json", "--state-dir", str(state)).stdout)
    assert status["membership"]["node"] == "solo" and status["membership"]["comm_up"] is True
    assert status["parameters"]["udpport"] == str(status["parameters"]["udpport"])
    assert "solo: active" in run_cli("status", "--state-dir", str(state)).stdout
    # graceful stop
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    output = proc.stdout.read()
    assert "Heartbeat shutdown complete." in output
    assert "Heartbeat shutdown complete." in (tmp_path / "ha-log").read_text()
    assert not (state / "hbagent.sock").exists()
    stopped = cl_status(state, "hbstatus")
    assert (stopped.returncode, stopped.stdout) == (1, "Heartbeat is stopped on this machine.\n")
    assert cl_status(state, "rscstatus").stderr == "Cannot signon with heartbeat\n"


def test_restart_uses_a_larger_generation_and_the_same_uuid(solo, tmp_path):
    proc, state, _ = solo
    first = json.loads(run_cli("status", "--json", "--state-dir", str(state)).stdout)["membership"][
        "generation"
    ]
    uuid = (state / "hb_uuid").read_bytes()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    again = subprocess.Popen([sys.executable, "-m", "hbagent", "run", "--config-dir", str(tmp_path / "ha.d"),
                              "--state-dir", str(state), "--node", "solo"], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        second = None
        while second is None and time.monotonic() < deadline:
            result = run_cli("status", "--json", "--state-dir", str(state))
            if result.returncode == 0:
                second = json.loads(result.stdout)["membership"]["generation"]
            else:
                time.sleep(0.1)
        assert second is not None and second > first
        assert (state / "hb_uuid").read_bytes() == uuid
    finally:
        again.kill()
        again.wait(timeout=10)


def test_run_refuses_bad_config_and_unknown_node(tmp_path):
    conf = write_config(tmp_path / "c", ha_cf=LAB_HA_CF + "bogus 1\n")
    result = run_cli("run", "--config-dir", str(conf), "--state-dir", str(tmp_path / "s"), "--node", "web1")
    assert result.returncode == 1
    assert (
        "configuration error" in result.stderr
        and f"{conf}/ha.cf:7: Illegal directive [bogus]" in result.stderr
    )
    conf = write_config(tmp_path / "d")
    result = run_cli("run", "--config-dir", str(conf), "--state-dir", str(tmp_path / "s"), "--node", "web9")
    assert result.returncode == 1 and "Current node [web9] not in configuration!" in result.stderr


def test_run_reports_a_missing_interface(tmp_path):
    conf = write_config(tmp_path / "c", ha_cf=LAB_HA_CF.replace("bcast eth0", "bcast nosuchif0"))
    result = run_cli("run", "--config-dir", str(conf), "--state-dir", str(tmp_path / "s"), "--node", "web1")
    assert result.returncode == 1 and "bcast nosuchif0: no such interface" in result.stderr


def test_cl_status_without_daemon_in_process(tmp_path, capsys):
    assert cli.cl_status(["nodestatus", "web1"], str(tmp_path)) == 1
    assert capsys.readouterr().err == "Cannot signon with heartbeat\n"
    assert cli.cl_status(["hbstatus"], str(tmp_path)) == 1
    assert capsys.readouterr().out == "Heartbeat is stopped on this machine.\n"
    assert cli.cl_status([], str(tmp_path)) == 11
    assert cli.cl_status(["frobnicate"], str(tmp_path)) == 11
    assert "invalid sub-command" in capsys.readouterr().err
