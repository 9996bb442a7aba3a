"""Podman harness for the interop suite: real Heartbeat 3.0.6 nodes and hbagent nodes side by side.

Shared by tests/interop (pytest fixtures in conftest.py) and bench/interop_soak.py. Everything it creates
carries the label io.hakit.lab=interop, so a run killed half-way is cleaned up by the next one (or by
scripts/lab-clean.sh).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAB = "interop"
NETWORK = "hakit-interop"
SUBNET = "10.213.20.0/24"
NODE_IPS = {"web1": "10.213.20.11", "web2": "10.213.20.12"}
VIP = "10.213.20.50"
IMAGE = os.environ.get("HAKIT_IMAGE_HEARTBEAT", "localhost/hakit-heartbeat:bookworm")
AGENT_PYZ = REPO / "dist" / "hbagent.pyz"
AGENT_PATH = "/usr/local/lib/hakit/hbagent.pyz"
AGENT_STATE_DIR = "/var/lib/hbagent"
AGENT_UNIT = "hbagent"
HA_LOG = "/var/log/ha-log"

# Short but honest timings: Heartbeat requires deadtime > 2 x keepalive and warns when initdead < 10 s.
KEEPALIVE_S = 1
WARNTIME_S = 3
DEADTIME_S = 6
INITDEAD_S = 12
# Bound for anything "within deadtime": generous, the host may be a loaded 2-core machine.
DEAD_MARGIN_S = 20

# Lines of the real node's log that mean the peer's packets were refused or lost.
AUTH_FAILURE = re.compile(r"failed authentication|authtoken does not match|netstring authentication failed"
                          r"|Invalid authentication|Bad/invalid auth token|error in getting auth string")
REXMIT = re.compile(r"lost packet|rexmit", re.IGNORECASE)


class HarnessError(RuntimeError):
    pass


def run(cmd: list[str], *, check: bool = True, timeout: float = 120, input_text: str | None = None,
        ) -> subprocess.CompletedProcess[str]:
    # errors="replace": the real node logs raw packet bytes (binary uuids) when it refuses a packet.
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout,
                          input=input_text, check=False)
    if check and proc.returncode != 0:
        raise HarnessError(f"{shlex.join(cmd)} -> exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return proc


def podman(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return run(["podman", *args], **kw)


def wait_for(what: str, probe: Callable[[], object], timeout: float, interval: float = 0.5):
    """Poll probe() until it returns something truthy; raise with the last value seen on timeout."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def podman_usable() -> str | None:
    """None when podman can run the lab here, else the reason it cannot."""
    if shutil.which("podman") is None:
        return "podman is not installed"
    if os.geteuid() != 0:
        return "the interop lab needs root (podman networks with fixed IPs, NET_ADMIN)"
    return None


def ensure_image() -> None:
    """Build (or refresh, when its Containerfile changed) the interop image; a given image is used as is."""
    if "HAKIT_IMAGE_HEARTBEAT" in os.environ:
        if podman("image", "exists", IMAGE, check=False).returncode != 0:
            raise HarnessError(f"image {IMAGE} (HAKIT_IMAGE_HEARTBEAT) does not exist")
        return
    run(["bash", str(REPO / "scripts/image/build-heartbeat.sh"), "bookworm"], timeout=1800)


def interrupt_on_sigterm() -> None:
    """Turn SIGTERM (CI timeout, kill) into KeyboardInterrupt so that the lab is still torn down."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def remove_lab() -> None:
    """Remove this suite's containers and network, and nothing else (label io.hakit.lab=interop)."""
    ids = podman("ps", "-aq", "--filter", f"label=io.hakit.lab={LAB}", check=False).stdout.split()
    if ids:
        podman("rm", "-f", "-t", "0", *ids, check=False)
    nets = podman("network", "ls", "-q", "--filter", f"label=io.hakit.lab={LAB}", check=False).stdout.split()
    if nets:
        podman("network", "rm", "-f", *nets, check=False)


def agent_unavailable() -> str | None:
    """None once dist/hbagent.pyz is built (building it from the checkout if needed), else why not."""
    if not (REPO / "hbagent" / "__main__.py").exists():
        return "the agent is not in this checkout yet (hbagent/__main__.py missing)"
    run(["make", "-s", "-C", str(REPO), "agent"], timeout=300)
    if not AGENT_PYZ.exists():
        raise HarnessError(f"make agent did not produce {AGENT_PYZ}")
    return None


def agent_help() -> str:
    """The agent's --help text ('' without an agent): what it can do decides which tests apply."""
    try:
        if agent_unavailable():
            return ""
    except HarnessError:
        return ""
    proc = run(["python3", str(AGENT_PYZ), "--help"], check=False, timeout=60)
    return proc.stdout + proc.stderr


def agent_has_commands(*commands: str) -> bool:
    words = set(re.findall(r"[a-z][a-z0-9_-]*", agent_help()))
    return all(command in words for command in commands)


def new_authkey() -> str:
    return secrets.token_hex(16)


def ha_cf(nodes: tuple[str, ...] = ("web1", "web2")) -> str:
    return "\n".join([
        "# written by tests/interop/harness.py",
        f"logfile {HA_LOG}",
        f"keepalive {KEEPALIVE_S}",
        f"warntime {WARNTIME_S}",
        f"deadtime {DEADTIME_S}",
        f"initdead {INITDEAD_S}",
        "udpport 694",
        "bcast eth0",
        "auto_failback on",
        f"node {' '.join(nodes)}",
        "crm off",
        "",
    ])


def haresources(groups: list[tuple[str, str]]) -> str:
    return "".join(f"{node} {resources}\n" for node, resources in groups)


def authkeys(key: str) -> str:
    return f"auth 3\n3 md5 {key}\n"


@dataclass
class Node:
    name: str
    ip: str
    journal_since: str = ""

    @property
    def container(self) -> str:
        return f"hakit-interop-{self.name}"

    # -- plumbing ------------------------------------------------------------------------------------
    def sh(self, script: str, *, check: bool = True, timeout: float = 60,
           input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        return podman("exec", "-i", self.container, "bash", "-c", script,
                      check=check, timeout=timeout, input_text=input_text)

    def write_files(self, files: dict[str, tuple[str, int]]) -> None:
        """Write {path: (text, mode)} in one exec (each podman exec costs ~0.5 s)."""
        script = ("import json, os, sys\n"
                  "for path, (text, mode) in json.load(sys.stdin).items():\n"
                  "    os.makedirs(os.path.dirname(path), exist_ok=True)\n"
                  "    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)\n"
                  "    os.fchmod(fd, mode)\n"
                  "    os.write(fd, text.encode())\n"
                  "    os.close(fd)\n")
        podman("exec", "-i", self.container, "python3", "-c", script, input_text=json.dumps(files))

    def configure(self, *, key: str, groups: list[tuple[str, str]]) -> None:
        self.write_files({
            "/etc/ha.d/ha.cf": (ha_cf(), 0o644),
            "/etc/ha.d/haresources": (haresources(groups), 0o644),
            "/etc/ha.d/authkeys": (authkeys(key), 0o600),
        })


    def ha_log(self) -> str:
        return self.sh(f"cat {HA_LOG} 2>/dev/null || true").stdout

    def journal(self, unit: str | None = None) -> str:
        sel = f"-u {shlex.quote(unit)}" if unit else ""
        since = f"--since @{self.journal_since}" if self.journal_since else ""
        return self.sh(f"journalctl --no-pager -o short-precise {since} {sel} 2>/dev/null || true").stdout

    def addresses(self) -> list[str]:
        out = self.sh("ip -4 -o addr show dev eth0").stdout
        return re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", out)

    def has_vip(self) -> bool:
        return VIP in self.addresses()

    # -- the real Heartbeat --------------------------------------------------------------------------
    def start_heartbeat(self) -> None:
        self.sh("systemctl reset-failed heartbeat 2>/dev/null; systemctl start heartbeat", timeout=90)

    def stop_heartbeat(self) -> None:
        """Graceful stop: releases resources and sends shutdone (spec §8.8)."""
        self.sh("systemctl stop heartbeat", timeout=120)

    def kill_heartbeat(self) -> None:
        """Crash: SIGKILL every heartbeat process; resources are left in place (spec §9.5)."""
        self.sh("systemctl kill --signal=SIGKILL heartbeat; "
                "for i in $(seq 50); do pgrep -x heartbeat >/dev/null || exit 0; sleep 0.1; done; exit 1")
        self.sh("systemctl reset-failed heartbeat 2>/dev/null; true")

    def heartbeat_running(self) -> bool:
        return self.sh("pgrep -x heartbeat >/dev/null", check=False).returncode == 0

    def cl_status(self, *args: str) -> tuple[int, str]:
        proc = self.sh(shlex.join(["cl_status", *args]), check=False, timeout=30)
        return proc.returncode, proc.stdout.strip()

    # -- the agent -----------------------------------------------------------------------------------
    def install_agent(self, pyz: Path = AGENT_PYZ) -> None:
        podman("cp", str(pyz), f"{self.container}:{AGENT_PATH}")  # Lab.up() made the directory

    def agent(self, *args: str, check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return self.sh(shlex.join(["python3", AGENT_PATH, *args]), check=check, timeout=timeout)

    def start_agent(self) -> None:
        # A transient unit, so that the agent can be SIGKILLed like a crashed daemon and its stderr lands
        # in the journal; reset-failed clears the unit left by a previous kill.
        self.sh(f"systemctl stop {AGENT_UNIT} 2>/dev/null; systemctl reset-failed {AGENT_UNIT} 2>/dev/null; "
                f"systemd-run --quiet --unit {AGENT_UNIT} --property=KillMode=mixed "
                f"python3 {AGENT_PATH} run --config-dir /etc/ha.d --state-dir {AGENT_STATE_DIR}")

    def stop_agent(self) -> None:
        self.sh(f"systemctl stop {AGENT_UNIT} 2>/dev/null; systemctl reset-failed {AGENT_UNIT} 2>/dev/null; true",
                timeout=120)

    def kill_agent(self) -> None:
        self.sh(f"systemctl kill --signal=SIGKILL {AGENT_UNIT}")
        wait_for("the agent to die", lambda: not self.agent_running(), timeout=10, interval=0.2)
        self.sh(f"systemctl reset-failed {AGENT_UNIT} 2>/dev/null; true")

    def agent_running(self) -> bool:
        return self.sh(f"systemctl is-active --quiet {AGENT_UNIT}", check=False).returncode == 0

    def agent_cl_status(self, *args: str) -> tuple[int, str]:
        proc = self.agent("cl-status", *args)
        return proc.returncode, proc.stdout.strip()

    def agent_status_json(self) -> dict | None:
        proc = self.agent("status", "--json")
        if proc.returncode != 0:
            return None
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError:
            return None

    # -- losing packets on purpose -------------------------------------------------------------------
    def drop_outgoing(self, every: int) -> None:
        """Drop every n-th heartbeat datagram this node sends (deterministic, no netem needed)."""
        self.sh("nft add table inet hakit_loss; "
                "nft add chain inet hakit_loss out '{ type filter hook output priority 0; }'; "
                f"nft add rule inet hakit_loss out udp dport 694 numgen inc mod {every} 0 drop")

    def stop_dropping(self) -> None:
        self.sh("nft delete table inet hakit_loss 2>/dev/null; true")

    # -- state between tests -------------------------------------------------------------------------
    def quiesce(self) -> None:
        """Stop whatever runs on the node, drop the VIP and loss rules, start a fresh ha-log and read the
        journal only from now on: the next test starts from nothing. One exec."""
        self.journal_since = self.sh(
            f"systemctl kill --signal=SIGKILL heartbeat {AGENT_UNIT} {Capture.UNIT} 2>/dev/null; "
            "nft delete table inet hakit_loss 2>/dev/null; "
            f"for i in $(seq 50); do pgrep -x heartbeat >/dev/null || "
            f"systemctl is-active --quiet {AGENT_UNIT} || break; sleep 0.1; done; "
            f"systemctl reset-failed heartbeat {AGENT_UNIT} {Capture.UNIT} 2>/dev/null; "
            f"ip addr del {VIP}/24 dev eth0 2>/dev/null; "
            f": > {HA_LOG}; date +%s.%N").stdout.strip()


class Lab:
    """The podman network and the two node containers."""

    def __init__(self) -> None:
        self.nodes = {name: Node(name, ip) for name, ip in NODE_IPS.items()}

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def up(self) -> None:
        remove_lab()  # stale objects of an earlier, killed run
        ensure_image()
        podman("network", "create", "--subnet", SUBNET, "--label", f"io.hakit.lab={LAB}", NETWORK)
        hosts = [f"--add-host={n}:{ip}" for n, ip in NODE_IPS.items()]
        for node in self.nodes.values():
            podman("run", "-d", "--name", node.container, "--hostname", node.name,
                   "--network", NETWORK, "--ip", node.ip, *hosts,
                   "--systemd=always", "--cap-add", "NET_ADMIN,NET_RAW",
                   "--label", f"io.hakit.lab={LAB}", "--label", f"io.hakit.node={node.name}", IMAGE)
        for node in self.nodes.values():
            wait_for(f"systemd in {node.container}", lambda n=node: n.sh(
                "systemctl is-system-running", check=False).stdout.strip() in ("running", "degraded"),
                timeout=60)
            node.sh(f"mkdir -p {Path(AGENT_PATH).parent}")

    def down(self) -> None:
        remove_lab()

    def quiesce(self) -> None:
        with ThreadPoolExecutor() as pool:
            list(pool.map(Node.quiesce, self.nodes.values()))


def count_matches(pattern: re.Pattern[str], text: str) -> list[str]:
    return [line for line in text.splitlines() if pattern.search(line)]


# -- the wire --------------------------------------------------------------------------------------------
@dataclass
class Packet:
    time: float
    src_ip: str
    fields: dict[str, bytes]
    raw: bytes

    def get(self, name: str) -> str | None:
        value = self.fields.get(name)
        return None if value is None else value.decode("latin-1")


def parse_netstring_message(payload: bytes) -> dict[str, bytes] | None:
    """Fields of one Heartbeat netstring datagram (spec §3.1), first occurrence wins; None if not one."""
    if not payload.startswith(b"###\n"):
        return None
    fields: dict[str, bytes] = {}
    pos = 4
    while not payload.startswith(b"%%%\n", pos):
        colon = payload.find(b":", pos)
        if colon < 0 or not payload[pos:colon].isdigit():
            return None
        length = int(payload[pos:colon])
        body = payload[colon + 1:colon + 1 + length]
        if len(body) != length or payload[colon + 1 + length:colon + 2 + length] != b",":
            return None
        name, sep, value = body[3:].partition(b"=")
        if not sep:
            return None
        fields.setdefault(name.decode("latin-1"), value)
        pos = colon + 2 + length
    return fields


def parse_pcap(data: bytes) -> list[Packet]:
    """UDP/IPv4 payloads of an Ethernet pcap (classic format, as tcpdump -w writes it)."""
    import struct

    if len(data) < 24:
        return []
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    packets, pos = [], 24
    while pos + 16 <= len(data):
        sec, usec, caplen, _ = struct.unpack(endian + "IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        ihl = (frame[14] & 0x0F) * 4
        src_ip = ".".join(str(b) for b in frame[26:30])
        payload = frame[14 + ihl + 8:]
        fields = parse_netstring_message(payload)
        if fields is not None:
            packets.append(Packet(sec + usec / 1e6, src_ip, fields, payload))
    return packets


class Capture:
    """tcpdump of port 694 on one node's eth0 (it sees both nodes' broadcasts)."""

    UNIT = "hakit-capture"
    FILE = "/tmp/hakit-capture.pcap"

    def __init__(self, node: Node) -> None:
        self.node = node

    def __enter__(self) -> Capture:
        self.node.sh(f"systemctl stop {self.UNIT} 2>/dev/null; systemctl reset-failed {self.UNIT} 2>/dev/null; "
                     f"rm -f {self.FILE}; systemd-run --quiet --unit {self.UNIT} "
                     f"tcpdump -i eth0 -U -s 0 -w {self.FILE} udp port 694")
        wait_for("tcpdump to start", lambda: self.node.sh(f"test -s {self.FILE}", check=False).returncode == 0,
                 timeout=15, interval=0.2)
        return self

    def packets(self) -> list[Packet]:
        """Everything captured so far (tcpdump -U writes each packet at once)."""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "cap.pcap"
            podman("cp", f"{self.node.container}:{self.FILE}", str(local))
            return parse_pcap(local.read_bytes())

    def __exit__(self, *exc) -> None:
        self.node.sh(f"systemctl stop {self.UNIT} 2>/dev/null; systemctl reset-failed {self.UNIT} 2>/dev/null; "
                     "true")
