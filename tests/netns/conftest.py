"""Network-namespace lab for multi-node hbagent tests (root + iproute2; skipped otherwise).

Topology: one namespace holding a bridge, one namespace per node joined to it by a veth pair whose
node end is called eth0; subnet 10.213.30.0/24.  Every namespace is named hakit-nt-<run>-<x> and is
removed, with every agent process, when the fixture ends, whatever the outcome.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SUBNET = "10.213.30"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
AUTHKEYS = "auth 3\n3 md5 netns-test-key\n"

pytestmark = pytest.mark.netns


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=30)


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "netns tests need root (ip netns, veth, bridge)"
    if shutil.which("ip") is None:
        return "netns tests need iproute2's `ip`"
    probe = f"hakit-nt-probe-{os.getpid()}"
    result = _run("ip", "netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"cannot create network namespaces here: {result.stderr.strip()}"
    _run("ip", "netns", "del", probe, check=False)
    return None


@pytest.fixture(scope="session")
def netns_ok():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def agent_pyz(tmp_path_factory, netns_ok) -> pathlib.Path:
    """The zipapp, built from this checkout (what `make agent` ships)."""
    out = tmp_path_factory.mktemp("dist") / "hbagent.pyz"
    _run(sys.executable, str(ROOT / "scripts" / "build-agent.py"), str(out))
    return out


class Agent:
    def __init__(self, lab: Lab, name: str, address: str):
        self.lab, self.name, self.address = lab, name, address
        self.netns = f"{lab.prefix}-{name}"
        self.config_dir = lab.tmp / name / "ha.d"
        self.state_dir = lab.tmp / name / "state"
        self.log_path = lab.tmp / name / "agent.log"
        self.process: subprocess.Popen | None = None

    def start(self, resources: bool = False) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        argv = ["ip", "netns", "exec", self.netns, PYTHON, str(self.lab.pyz), "run", "--config-dir",
                str(self.config_dir), "--state-dir", str(self.state_dir), "--node", self.name]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*argv, *([] if resources else ["--no-resources"])],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def addresses(self) -> str:
        return _run("ip", "-n", self.netns, "-4", "-o", "addr", "show", "dev", "eth0").stdout

    def signal(self, signum: int) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def stop(self) -> None:
        if self.process is None:
            return
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def cl_status(self, *args: str) -> subprocess.CompletedProcess:
        return _run(
            PYTHON, str(self.lab.pyz), "cl-status", "--state-dir", str(self.state_dir), *args, check=False
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Lab:
    def __init__(self, tmp: pathlib.Path, pyz: pathlib.Path):
        self.tmp, self.pyz = tmp, pyz
        self.prefix = f"hakit-nt-{uuid.uuid4().hex[:8]}"
        self.bridge_ns = f"{self.prefix}-br"
        self.namespaces: list[str] = []
        self.agents: dict[str, Agent] = {}

    def _netns(self, name: str) -> None:
        _run("ip", "netns", "add", name)
        self.namespaces.append(name)
        _run("ip", "-n", name, "link", "set", "lo", "up")

    def build(self, names: list[str]) -> None:
        self._netns(self.bridge_ns)
        _run("ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")
        for index, name in enumerate(names, start=1):
            agent = Agent(self, name, f"{SUBNET}.{10 + index}")
            self._netns(agent.netns)
            port = f"hkp{index}"
            _run("ip", "-n", self.bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                 "netns", agent.netns)  # fmt: skip
            _run("ip", "-n", self.bridge_ns, "link", "set", port, "master", "br0", "up")
            _run("ip", "-n", agent.netns, "addr", "add", f"{agent.address}/24", "brd", "+", "dev", "eth0")
            _run("ip", "-n", agent.netns, "link", "set", "eth0", "up")
            self.agents[name] = agent

    def configure(self, media: str, timings: str, haresources: str = "") -> None:
        nodes = " ".join(self.agents)
        for agent in self.agents.values():
            agent.config_dir.mkdir(parents=True, exist_ok=True)
            own_media = media.format(peer=next(a.address for a in self.agents.values() if a is not agent))
            (agent.config_dir / "ha.cf").write_text(
                f"{timings}\nudpport 694\n{own_media}\nnode {nodes}\nauto_failback on\n"
            )
            (agent.config_dir / "haresources").write_text(haresources)
            keys = agent.config_dir / "authkeys"
            keys.write_text(AUTHKEYS)
            keys.chmod(0o600)

    def teardown(self) -> None:
        for agent in self.agents.values():
            agent.stop()
        for name in reversed(self.namespaces):
            _run("ip", "netns", "del", name, check=False)


@pytest.fixture
def lab(tmp_path, agent_pyz):
    lab = Lab(tmp_path, agent_pyz)
    try:
        yield lab
    finally:
        lab.teardown()
        for agent in lab.agents.values():  # shown only when the test failed
            print(f"----- {agent.name} log -----\n{agent.log()[-4000:]}")


def _wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    """Poll `predicate` until it returns something truthy; the last value otherwise."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


@pytest.fixture
def wait_for():
    return _wait_for
