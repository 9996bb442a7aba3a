"""A real daemon process on loopback (web1 of web1/web2, web2 never answers): reload, systemd
notifications, who-holds-what, standby/takeover refusals. The resource is a resource.d script that
records its starts and stops."""

import itertools
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
RECORDER = """#!/bin/sh
# records every call: "<name> <action>"
echo "$(basename "$0") $*" >> "$(dirname "$0")/../calls"
case "$1" in
  status) if [ -e "$(dirname "$0")/../$(basename "$0").on" ]; then echo running; else echo stopped; fi ;;
  start) touch "$(dirname "$0")/../$(basename "$0").on" ;;
  stop) rm -f "$(dirname "$0")/../$(basename "$0").on" ;;
esac
"""


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Duo:
    """web1 alone: initdead expires, it takes every group, and keeps heartbeating to nobody."""

    def __init__(self, tmp: pathlib.Path):
        self.tmp, self.port = tmp, free_udp_port()
        self.conf, self.state = tmp / "ha.d", tmp / "state"
        (self.conf / "resource.d").mkdir(parents=True)
        for name in ("svc", "extra"):
            script = self.conf / "resource.d" / name
            script.write_text(RECORDER)
            script.chmod(0o755)
        self.write("ha.cf", self.ha_cf())
        self.write("haresources", "web1 svc\n")
        self.write("authkeys", "auth 3\n3 md5 secret\n", 0o600)
        self.proc = None

    def ha_cf(self, keepalive="200ms", nodes="web1 web2", extra=""):
        return (f"logfile {self.tmp}/ha-log\nkeepalive {keepalive}\ndeadtime 1\ninitdead 2\n"
                f"udpport {self.port}\nucast lo 127.0.0.1\nnode {nodes}\nauto_failback on\n{extra}")  # fmt: skip

    def write(self, name, text, mode=0o644):
        path = self.conf / name
        path.write_text(text)
        path.chmod(mode)

    def start(self, env=None):
        self.proc = subprocess.Popen([sys.executable, "-m", "hbagent", "run", "--config-dir", str(self.conf),
                                      "--state-dir", str(self.state), "--node", "web1"], cwd=ROOT,
                                     env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def cli(self, *args, timeout=60):
        return subprocess.run([sys.executable, "-m", "hbagent", *args], capture_output=True, text=True, cwd=ROOT,
                              timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                    "HBAGENT_STATE_DIR": str(self.state)})  # fmt: skip

    def status(self):
        result = self.cli("status", "--json")
        return json.loads(result.stdout) if result.returncode == 0 else None

    def wait_holding(self, stable=False, timeout=30):
        """Until web1 runs its group; `stable`: also until rscstatus says so (3.0.6 keeps a node that
        started alone in transition for 10 s, RQSTDELAY)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            held = status and status["groups"][0]["held_by"] == ["web1"]
            if held and (not stable or status["rscstatus"] == "all"):
                return status
            time.sleep(0.1)
        raise AssertionError(f"web1 never took its group: {self.log()[-2000:]}")

    def calls(self):
        path = self.conf / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def log(self):
        path = self.tmp / "ha-log"
        return path.read_text() if path.exists() else ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def duo(tmp_path):
    duo = Duo(tmp_path)
    try:
        yield duo
    finally:
        duo.stop()


def test_status_shows_who_holds_what_and_refusals_are_clear(duo):
    duo.start()
    duo.wait_holding()
    # no peer: both commands are refused with the reason, exit 1, and nothing moves
    standby = duo.cli("standby", "local")
    assert standby.returncode == 1
    assert (
        standby.stderr
        == "hbagent standby local: refused: web2 is not alive: nobody could take the resources\n"
    )
    takeover = duo.cli("takeover")
    assert takeover.returncode == 1
    assert (
        takeover.stderr
        == "hbagent takeover all: refused: web2 is not alive: its resources are ours already\n"
    )
    status = duo.wait_holding(stable=True)
    assert status["node"] == "web1"
    assert status["groups"] == [{
        "key": "svc", "preferred_node": "web1", "set": "local", "resources": ["svc"], "held_by": ["web1"],
        "here": "running", "make_before_break": False,
    }]  # fmt: skip
    verbose = duo.cli("cl-status", "rscstatus", "-v")
    assert verbose.stdout.splitlines() == ["all", "svc\tweb1\tweb1\trunning"]
    human = duo.cli("status").stdout
    assert "group svc (preferred web1): held by web1, here running" in human
    assert duo.cli("cl-status", "rscstatus").stdout == "all\n"  # the 3.0.6 answer is unchanged
    assert duo.calls().count("svc start") == 1


def test_reload_applies_what_it_can_and_keeps_the_rest(duo):
    duo.start()
    duo.wait_holding()
    assert duo.cli("cl-status", "hbparameter", "-p", "keepalive").stdout == "200ms\n"

    # timings, keys and a resource added to the running group: applied, nothing restarted
    duo.write("ha.cf", duo.ha_cf(keepalive="300ms"))
    duo.write("authkeys", "auth 4\n3 md5 secret\n4 sha1 rotated\n", 0o600)
    duo.write("haresources", "web1 svc extra\n")
    applied = duo.cli("reload")
    assert applied.returncode == 0, applied.stderr
    assert "Reload: keepalive 200ms -> 300ms" in applied.stdout
    assert "Reload: authkeys: auth 3 (keys: 3 md5) -> auth 4 (keys: 3 md5, 4 sha1)" in applied.stdout
    assert "Configuration reloaded (no resource was moved)." in applied.stdout
    assert duo.cli("cl-status", "hbparameter", "-p", "keepalive").stdout == "300ms\n"
    assert duo.status()["groups"][0]["resources"] == ["svc", "extra"]
    assert duo.calls() == ["svc status", "svc start"]  # not stopped, not started again

    # an invalid file: every error with file:line, the running configuration stays
    duo.write("ha.cf", duo.ha_cf(keepalive="100ms", extra="bogus 1\n"))
    refused = duo.cli("reload")
    assert refused.returncode == 1
    assert f"{duo.conf}/ha.cf:9: Illegal directive [bogus] in {duo.conf}/ha.cf" in refused.stderr
    assert "keeping the running configuration" in refused.stderr
    assert duo.cli("cl-status", "hbparameter", "-p", "keepalive").stdout == "300ms\n"

    # SIGHUP does the same, into the log
    duo.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "Reload failed: configuration error" not in duo.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"ERROR: {duo.conf}/ha.cf:9: Illegal directive [bogus]" in duo.log()

    # a node list change is refused with a clear line, and so is a new group
    duo.write("ha.cf", duo.ha_cf(keepalive="100ms", nodes="web1 web3"))
    duo.write("haresources", "web1 svc extra\n")
    refused = duo.cli("reload")
    assert refused.returncode == 1
    assert "node list changed (web1 web2 -> web1 web3): refused" in refused.stderr
    duo.write("ha.cf", duo.ha_cf(keepalive="300ms"))
    duo.write("haresources", "web1 svc extra\nweb2 other\n")
    refused = duo.cli("reload")
    assert refused.returncode == 1 and "groups added other" in refused.stderr

    # hbagent.conf is checked too
    duo.write("haresources", "web1 svc extra\n")
    duo.write("hbagent.conf", "make_before_break nosuch\n")
    refused = duo.cli("reload")
    assert refused.returncode == 1 and f"{duo.conf}/hbagent.conf:1: make_before_break: no haresources" in (
        refused.stderr
    )
    duo.write("hbagent.conf", "make_before_break svc\n")
    assert duo.cli("reload").returncode == 0
    assert duo.status()["make_before_break"] == ["svc"]
    assert duo.cli("cl-status", "hbparameter", "-p", "keepalive").stdout == "300ms\n"

    # the group is stopped with what it was started with... and what was added since
    duo.proc.send_signal(signal.SIGTERM)
    assert duo.proc.wait(timeout=30) == 0
    assert duo.calls()[2:] == ["svc stop"]


def test_systemd_notifications(duo, tmp_path):
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    messages = []

    def receive_until(predicate, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = sock.recv(4096).decode()
            messages.append((time.monotonic(), data))
            if predicate(data):
                return data
        raise AssertionError(f"not received; got {messages}")

    try:
        duo.start(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        ready = receive_until(lambda m: "READY=1" in m)
        assert (duo.state / "hbagent.sock").exists()  # READY only once the control socket is open
        assert ready.startswith("READY=1\nSTATUS=web1 ")
        start = time.monotonic()
        holding = receive_until(lambda m: m.startswith("STATUS=") and ": svc" in m)
        assert holding == "STATUS=web1 active; web2 dead; resources transition: svc"  # RQSTDELAY, then all
        while time.monotonic() - start < 3.5:
            receive_until(lambda m: True)
        pings = [t for t, m in messages if m == "WATCHDOG=1"]
        assert len(pings) >= 3  # every second with WATCHDOG_USEC=2 s
        assert max(b - a for a, b in itertools.pairwise(pings)) < 2.0  # systemd would have killed it
        duo.proc.send_signal(signal.SIGHUP)
        reloading = receive_until(lambda m: m.startswith("RELOADING=1"))
        assert "MONOTONIC_USEC=" in reloading
        assert receive_until(lambda m: "READY=1" in m).startswith("READY=1\nSTATUS=")
        duo.proc.send_signal(signal.SIGTERM)
        assert receive_until(lambda m: "STOPPING=1" in m).startswith("STOPPING=1")
    finally:
        sock.close()
