"""The daemon under attack, on loopback (web1 of web1/web2; web2 never answers, web1 holds its group):
packets, control requests, signals and reloads that used to end the process, and the fail-safe exit.
The netns suite (tests/netns/test_attacks_netns.py) does the same with two nodes and a real VIP."""

import base64
import json
import os
import pathlib
import re
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest

from hbagent import cli, daemon, state, wire
from hbagent import config as hc
from hbagent.wire import Message

ROOT = pathlib.Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
KEY = b"s3cr3t-k3y"
KEYS = hc.AuthKeys(3, {3: ("md5", KEY)})
RECORDER = """#!/bin/sh
echo "$(basename "$0") $*" >> "$(dirname "$0")/../calls"
case "$1" in
  status) if [ -e "$(dirname "$0")/../on" ]; then echo running; else echo stopped; fi ;;
  start) touch "$(dirname "$0")/../on" ;;
  stop) rm -f "$(dirname "$0")/../on" ;;
esac
"""


def corpus(name):
    return [base64.b64decode(e["b64"]) for e in json.loads((CORPUS / f"{name}.json").read_text())["entries"]]


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Victim:
    def __init__(self, tmp: pathlib.Path):
        self.tmp, self.port = tmp, free_udp_port()
        self.conf, self.state, self.logfile = tmp / "ha.d", tmp / "state", tmp / "ha-log"
        (self.conf / "resource.d").mkdir(parents=True)
        script = self.conf / "resource.d" / "svc"
        script.write_text(RECORDER)
        script.chmod(0o755)
        self.write("ha.cf", self.ha_cf())
        self.write("haresources", "web1 svc\n")
        self.write("authkeys", f"auth 3\n3 md5 {KEY.decode()}\n", 0o600)
        self.proc = None

    def ha_cf(self, extra=""):
        return (f"logfile {self.logfile}\nkeepalive 200ms\ndeadtime 1\ninitdead 2\nudpport {self.port}\n"
                f"ucast lo 127.0.0.1\nnode web1 web2\nauto_failback on\n{extra}")  # fmt: skip

    def write(self, name, text, mode=0o644):
        path = self.conf / name
        with __import__("contextlib").suppress(FileNotFoundError):
            path.unlink()
        path.write_text(text)
        path.chmod(mode)

    def start(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "hbagent", "run", "--config-dir", str(self.conf),
                                      "--state-dir", str(self.state), "--node", "web1"], cwd=ROOT,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def request(self, payload: bytes, timeout=10) -> dict:
        return json.loads(cli.control_exchange(str(self.state), payload, timeout))

    def status(self):
        return self.request(b'{"cmd": "status"}')

    def cli(self, *args):
        return subprocess.run([sys.executable, "-m", "hbagent", *args], capture_output=True, text=True, cwd=ROOT,
                              timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT),
                                               "HBAGENT_STATE_DIR": str(self.state)}, check=False)  # fmt: skip

    def wait_holding(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status = self.status()
                if status["groups"][0]["held_by"] == ["web1"] and status["groups"][0]["here"] == "running":
                    return status
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"web1 never took its group: {self.log()[-2000:]}")

    def send(self, data: bytes):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(data, ("127.0.0.1", self.port))

    def log(self):
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def calls(self):
        path = self.conf / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def wait_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while text not in self.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        return text in self.log()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def victim(tmp_path):
    victim = Victim(tmp_path)
    try:
        yield victim
    finally:
        victim.stop()


def web2_message(mtype, seq, **fields) -> Message:
    return Message.of(t=mtype, **fields, src="web2", srcuuid=b"\2" * 16, seq=format(seq, "x"), hg="64",
                      ts=format(int(time.time()), "x"))  # fmt: skip


def test_attacks_on_a_running_daemon_change_nothing(victim):
    victim.start()
    victim.wait_holding()

    # the wire: every crasher, garbage, forged packets (the right shape, no key)
    for data in corpus("wire"):
        victim.send(data)
    forged = wire.encode(web2_message("shutdone", 7, st="dead"), hc.AuthKeys(3, {3: ("md5", b"guess")}))
    for i in range(2000):
        victim.send(forged if i % 2 else b"###\n%d:(0)t=x,%%%%%%\n" % i)
    # past the key: malformed messages signed with it (what a peer with a bug could send)
    for data in corpus("membership"):
        body = wire.netstring_encode(wire.decode(data))
        victim.send(body + wire.trailing_auth(body, KEYS))
    # the control socket: each crasher gets an error back
    for line in corpus("control"):
        answer = victim.request(line)
        assert answer["ok"] is False and answer["error"], answer
    empty = victim.cli("cl-status", "clientstatus", "web2", "")
    assert empty.returncode == 13 and "client must be a non-empty string" in empty.stderr
    # a reload with a file that used to kill the daemon, then with a FIFO in place of ha.cf
    victim.write("ha.cf", victim.ha_cf(extra="deadtime " + "9" * 400 + "\n"))
    victim.proc.send_signal(signal.SIGHUP)
    assert victim.wait_log("keeping the running configuration")
    (victim.conf / "ha.cf").unlink()
    os.mkfifo(victim.conf / "ha.cf")
    refused = victim.cli("reload")
    assert refused.returncode == 1 and "a FIFO, not a regular file: refused" in refused.stderr

    status = victim.status()
    assert victim.proc.poll() is None
    assert status["groups"][0]["held_by"] == ["web1"] and status["groups"][0]["here"] == "running"
    assert status["input_errors"] == {}  # every input above was refused the expected way
    dropped = status["membership"]["dropped"]
    assert dropped["unauthenticated"] + dropped.get("malformed", 0) >= 1000  # the kernel may drop some
    assert victim.calls() == ["svc status", "svc start"]  # never stopped, never started again
    log = victim.log()
    assert KEY.decode() not in log
    signed = forged[: forged.rindex(b"%%%\n") + 4]
    assert wire.digest("md5", KEY, signed) not in log  # 3.0.6 logged the valid token of a forged packet
    assert not re.search(r"(?=[0-9]*[a-f])[0-9a-f]{32}", log), "a token (or something like one) in the log"
    assert log.count("bad packet on lo") < 100  # rate-limited, with counts
    assert "similar message(s) suppressed" in log or log.count("bad packet on lo") <= 5
    assert stat.S_IMODE(victim.logfile.stat().st_mode) == 0o600

    victim.proc.send_signal(signal.SIGTERM)
    assert victim.proc.wait(timeout=30) == 0
    assert victim.calls()[-1] == "svc stop"


def test_the_log_file_is_private_and_never_a_symlink(tmp_path):
    existing = tmp_path / "old-log"
    existing.write_text("")
    existing.chmod(0o644)
    target = tmp_path / "elsewhere"
    (tmp_path / "link-log").symlink_to(target)
    stream = open(os.devnull, "w")  # noqa: SIM115
    try:
        log = daemon.HeartbeatLog("web1", stream, str(existing), str(tmp_path / "link-log"))
        log("info", "line\nforged: CRIT: split brain \x1b[2J é")
        log.close()
        assert stat.S_IMODE(existing.stat().st_mode) == 0o640  # others lose everything, group its write
        assert (
            existing.read_text().rstrip("\n").endswith(r"info: line\nforged: CRIT: split brain \x1b[2J \xe9")
        )
        assert not target.exists()
        fresh = tmp_path / "new-log"
        daemon.HeartbeatLog("web1", stream, str(fresh)).close()
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    finally:
        stream.close()


def test_state_paths_refuse_symlinks_and_what_others_may_write(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(state.UnsafeStateError, match="is a symbolic link"):
        state.secure_dir(str(tmp_path / "link"))
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(state.UnsafeStateError, match=r"writable by group or others \(mode 0777\)"):
        state.secure_dir(str(shared))
    (real / "hb_generation").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(state.UnsafeStateError, match="is a symbolic link: refused"):
        state.next_generation(str(real))
    (real / "hb_generation").unlink()
    os.mkfifo(real / "hb_uuid")
    with pytest.raises(state.UnsafeStateError, match="not a regular file"):
        state.load_uuid(str(real))
    if os.geteuid() == 0:  # a file of another user: refused (needs root to make one)
        (real / "hb_uuid").unlink()
        (real / "hb_uuid").write_bytes(b"u" * 16)
        os.chown(real / "hb_uuid", 12345, 12345)
        with pytest.raises(state.UnsafeStateError, match="owned by uid 12345"):
            state.load_uuid(str(real))


def test_peers_seen_survive_a_restart_and_garbage_is_ignored(tmp_path):
    state.save_peers(str(tmp_path), {"web2": (0x64, 7)})
    assert state.load_peers(str(tmp_path)) == {"web2": (0x64, 7)}
    assert stat.S_IMODE((tmp_path / state.PEERS_FILE).stat().st_mode) == 0o600
    (tmp_path / state.PEERS_FILE).write_bytes(
        b"web2 12 3\nbad line\nweb3 " + b"9" * 50 + b" 1\n\xff\xfe 1 2\n"
    )
    assert state.load_peers(str(tmp_path)) == {"web2": (12, 3)}


def test_a_symlinked_state_directory_stops_the_start_with_a_clear_reason(tmp_path):
    victim = Victim(tmp_path)
    real = tmp_path / "real-state"
    real.mkdir(mode=0o700)
    victim.state.symlink_to(real)
    with pytest.raises(daemon.StartupError, match=r"state directory .*state: is a symbolic link: refused"):
        daemon.Daemon(str(victim.conf), str(victim.state), "web1", stream=open(os.devnull, "w"))  # noqa: SIM115


# ---------------------------------------------------------------------------------------------
# fail-safe: a loop that keeps failing gives up its resources and tells the peer


class FakeTransport:
    def __init__(self):
        self.sent = []
        self.log = None

    def send(self, data):
        self.sent.append(wire.decode(data))

    def close(self):
        pass


class FakeExecutor:
    def __init__(self):
        self.stopped = []
        self.log = None

    def stop_group(self, group, part):
        self.stopped.append((group.key, part))
        return type("Result", (), {"ok": True})()


def built_daemon(tmp_path):
    victim = Victim(tmp_path)
    d = daemon.Daemon(str(victim.conf), str(victim.state), "web1", stream=open(os.devnull, "w"))  # noqa: SIM115
    d.transport = FakeTransport()
    d.executor = FakeExecutor()
    d.membership.start(time.monotonic())
    return d


def test_a_step_failing_on_every_turn_leads_to_a_graceful_release(tmp_path):
    d = built_daemon(tmp_path)
    calls = []

    def broken(_now):
        calls.append(1)
        raise RuntimeError("bug")

    t0 = time.monotonic()
    d._step("membership", broken, t0)
    assert not d.shutting_down and d.input_errors["membership"] == 1  # once: that turn is dropped
    d._step("membership", broken, t0 + 0.6)  # deadtime 1 s: failing for half of it is enough
    assert d.shutting_down and d.fail_safe_at == t0 + 0.6
    assert d.exit_code is None  # the graceful way first: rscmgr releases, then `shutdone`


def test_the_emergency_exit_stops_every_group_and_says_shutdone(tmp_path):
    d = built_daemon(tmp_path)
    d._emergency_exit("event loop failed: RuntimeError: bug")
    assert d.exit_code == 1
    assert d.executor.stopped == [("svc", "all")]
    kinds = [(m["t"], m.get("st")) for m in d.transport.sent]
    assert kinds[-3:] == [("shutdone", "dead"), ("status", "up"), ("status", "up")]


def test_the_emergency_exit_drops_queued_starts(tmp_path):
    from hbagent import rscmgr

    d = built_daemon(tmp_path)
    d.jobs.put(rscmgr.Acquire(("svc",), rscmgr.PART_ALL))
    d._emergency_exit("bug")
    assert d.jobs.get_nowait() is None and d.jobs.empty()  # the worker would only see its stop
