"""The shipped systemd unit under a real systemd (podman container of the lab image, systemd PID 1):
Type=notify start, STATUS=, reload that fails on a bad file, the watchdog, stop releasing resources.

Skipped without podman or the image (`make images`). Container label io.hakit.lab=netns.
"""

import shutil
import subprocess
import time
import uuid

import pytest

IMAGE = "localhost/hakit-debian:bookworm"
PYZ = "/usr/local/lib/hakit/hbagent.pyz"
RECORDER = """#!/bin/sh
echo "$1" >> /run/svc.calls
case "$1" in
  status) if [ -e /run/svc.on ]; then echo running; else echo stopped; fi ;;
  start) touch /run/svc.on ;;
  stop) rm -f /run/svc.on ;;
esac
"""
HA_CF = ("keepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 2\nudpport 694\nucast lo 127.0.0.1\n"
         "node web1 web2\nauto_failback on\n")  # fmt: skip

pytestmark = pytest.mark.podman


def podman(*args, check=True, timeout=120, input_text=None):
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout,
                            input=input_text)  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {result.stdout}{result.stderr}")
    return result


@pytest.fixture
def node(agent_pyz):
    if shutil.which("podman") is None or podman("image", "exists", IMAGE, check=False).returncode != 0:
        pytest.skip(f"needs podman and {IMAGE} (make images)")
    name = f"hakit-nt-unit-{uuid.uuid4().hex[:8]}"
    podman("run", "-d", "--name", name, "--hostname", "web1", "--systemd=always", "--network", "none",
           "--cap-add", "NET_ADMIN,NET_RAW", "--label", "io.hakit.lab=netns", IMAGE)  # fmt: skip

    def sh(script, check=True, timeout=60):
        return podman("exec", "-i", name, "sh", "-c", script, check=check, timeout=timeout)

    try:
        deadline = time.monotonic() + 60
        while sh("systemctl is-system-running", check=False).stdout.strip() not in ("running", "degraded"):
            assert time.monotonic() < deadline, "systemd did not come up in the container"
            time.sleep(0.3)
        sh("mkdir -p /usr/local/lib/hakit /etc/ha.d/resource.d")
        podman("cp", str(agent_pyz), f"{name}:{PYZ}")
        for path, text, mode in (("/etc/ha.d/ha.cf", HA_CF, "644"), ("/etc/ha.d/haresources", "web1 svc\n", "644"),
                                 ("/etc/ha.d/authkeys", "auth 3\n3 md5 unit-test\n", "600"),
                                 ("/etc/ha.d/resource.d/svc", RECORDER, "755")):  # fmt: skip
            podman("exec", "-i", name, "sh", "-c", f"cat > {path} && chmod {mode} {path}", input_text=text)
        sh(f"python3 {PYZ} print-unit > /etc/systemd/system/hbagent.service && systemctl daemon-reload")
        yield sh
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def show(sh, *props):
    out = sh(f"systemctl show hbagent -p {','.join(props)}").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def wait(what, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_unit_under_systemd(node):
    sh = node
    assert (
        sh("systemd-analyze verify /etc/systemd/system/hbagent.service", check=False).stderr.count(
            "hbagent.service"
        )
        == 0
    )
    # Type=notify: `systemctl start` returns once READY=1 arrived, with our STATUS= line
    sh("systemctl start hbagent", timeout=90)
    state = show(sh, "ActiveState", "SubState", "StatusText", "WatchdogUSec", "MainPID")
    assert (state["ActiveState"], state["SubState"]) == ("active", "running")
    assert state["StatusText"].startswith("web1 ") and state["WatchdogUSec"] == "30s"
    assert sh("test -S /var/lib/hbagent/hbagent.sock && stat -c %a /var/lib/hbagent").stdout.strip() == "700"
    wait("the group to start", lambda: "start" in sh("cat /run/svc.calls 2>/dev/null", check=False).stdout)
    wait("STATUS= with the group", lambda: ": svc" in show(sh, "StatusText")["StatusText"])

    # reload: fine, then a bad file makes `systemctl reload` fail and changes nothing
    sh("sed -i 's/keepalive 200ms/keepalive 300ms/' /etc/ha.d/ha.cf && systemctl reload hbagent")
    assert sh(f"python3 {PYZ} cl-status hbparameter -p keepalive").stdout == "300ms\n"
    sh("echo 'bogus 1' >> /etc/ha.d/ha.cf")
    failed = sh("systemctl reload hbagent", check=False)
    assert failed.returncode != 0
    journal = sh("journalctl -u hbagent --no-pager -o cat").stdout
    assert "/etc/ha.d/ha.cf:9: Illegal directive [bogus]" in journal
    assert show(sh, "ActiveState")["ActiveState"] == "active"
    sh("sed -i '/bogus/d' /etc/ha.d/ha.cf")

    # the watchdog: pings keep a short one happy; a frozen daemon is killed and restarted
    sh("mkdir -p /etc/systemd/system/hbagent.service.d && printf '[Service]\\nWatchdogSec=3s\\n' "
       "> /etc/systemd/system/hbagent.service.d/watchdog.conf && systemctl daemon-reload && "
       "systemctl restart hbagent", timeout=120)  # fmt: skip
    time.sleep(7)
    state = show(sh, "ActiveState", "NRestarts", "MainPID")
    assert state["ActiveState"] == "active" and state["NRestarts"] == "0"
    sh(f"kill -STOP {state['MainPID']}")
    wait("the watchdog restart", lambda: show(sh, "NRestarts")["NRestarts"] == "1", timeout=40)
    wait("active again", lambda: show(sh, "ActiveState")["ActiveState"] == "active", timeout=40)
    assert "Watchdog timeout" in sh("journalctl -u hbagent --no-pager -o cat").stdout

    # stop: STOPPING=1, resources released, clean exit
    sh("truncate -s 0 /run/svc.calls")
    sh("systemctl stop hbagent", timeout=120)
    state = show(sh, "ActiveState", "Result")
    assert (state["ActiveState"], state["Result"]) == ("inactive", "success")
    assert "stop" in sh("cat /run/svc.calls").stdout.split()
    assert "Heartbeat shutdown complete." in sh("journalctl -u hbagent --no-pager -o cat").stdout
