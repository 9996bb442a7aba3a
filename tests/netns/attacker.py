"""An attacker on the lab's LAN (a namespace of its own on the bridge), for tests/netns/test_attacks_netns.py
and bench/attack_bench.py. No pytest here.

* Attacker.sniff(): records every heartbeat datagram on the LAN (the lab uses bcast: everyone gets them);
* Attacker.send(): sends datagrams to the broadcast address at a given rate for a given time, in a
  process of its own, and reports how many went out;
* payload builders: garbage, the issue-8 crashers, and forged packets (the right shape, no key).
"""

from __future__ import annotations

import base64
import json
import pathlib
import random
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hbagent import wire  # noqa: E402
from hbagent.config import AuthKeys  # noqa: E402
from hbagent.wire import Message  # noqa: E402

PORT = 694
CORPUS = ROOT / "tests" / "fuzz" / "corpus"

# The attacked pair: each node holds a VIP of its own, so that a forged death or takeover shows at once.
VIP1, VIP2 = "10.213.30.50", "10.213.30.51"
HARESOURCES = f"web1 IPaddr::{VIP1}/24/eth0\nweb2 IPaddr::{VIP2}/24/eth0\n"
BROADCAST = "10.213.30.255"


def both_active(web1, web2) -> bool:
    return (web1.cl_status("nodestatus", "web2").stdout == "active\n"
            and web2.cl_status("nodestatus", "web1").stdout == "active\n")  # fmt: skip


def start_attacked_pair(lab, timings: str, wait_for, timeout: float):
    """Two agents on the lab's bridge with their VIPs, each logging to a file of its own; (web1, web2) once
    both hold their own VIP and see each other active, else RuntimeError with web1's log."""
    lab.build(["web1", "web2"], client=True)
    lab.configure("bcast eth0", timings, haresources=HARESOURCES)
    for agent in lab.agents.values():
        with open(agent.config_dir / "ha.cf", "a") as handle:
            handle.write(f"logfile {agent.dir}/ha-log\n")
    web1, web2 = lab.agents["web1"], lab.agents["web2"]
    web1.start(resources=True)
    web2.start(resources=True)
    up = (wait_for(lambda: lab.holders(VIP1) == ["web1"] and lab.holders(VIP2) == ["web2"], timeout=timeout)
          and wait_for(lambda: both_active(web1, web2), timeout=timeout)
          and wait_for(lambda: web1.rscstatus() == "local" and web2.rscstatus() == "local", timeout=timeout))  # fmt: skip
    if not up:
        raise RuntimeError(f"the attacked pair did not come up:\n{web1.log()[-3000:]}")
    return web1, web2


_SCRIPT = r"""
import base64, json, socket, sys, time
mode, path, target, rate, duration = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
if mode == "sniff":
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("", int(target)))
    sock.settimeout(0.2)
    end = time.monotonic() + duration
    with open(path, "w") as out:
        print("ready", flush=True)
        while time.monotonic() < end:
            try:
                data, (addr, _port) = sock.recvfrom(65535)
            except socket.timeout:
                continue
            out.write(json.dumps({"t": time.monotonic(), "src": addr, "b64": base64.b64encode(data).decode()}) + "\n")
            out.flush()
    sys.exit(0)
packets = [base64.b64decode(line) for line in open(path) if line.strip()]
host, port = target.rsplit(":", 1)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
address = (host, int(port))
sent = errors = 0
start = time.monotonic()
end = start + duration
i = 0
print("ready", flush=True)
while True:
    now = time.monotonic()
    if now >= end:
        break
    due = int((now - start) * rate) + 1 - sent  # paced: as many as the rate allows by now
    if due <= 0:
        time.sleep(min(0.001, end - now))
        continue
    for _round in range(min(due, 512)):
        try:
            sock.sendto(packets[i % len(packets)], address)
            sent += 1
        except OSError:
            errors += 1
            sent += 1
        i += 1
elapsed = time.monotonic() - start
print(json.dumps({"sent": sent, "errors": errors, "seconds": round(elapsed, 3), "rate": round(sent / elapsed, 1)}), flush=True)
"""


class Attacker:
    def __init__(self, netns: str, tmp: pathlib.Path, broadcast: str, python: str = sys.executable):
        self.netns, self.tmp, self.broadcast, self.python = netns, tmp, broadcast, python
        self.count = 0

    def _start(self, argv: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", self.netns, self.python, "-c", _SCRIPT, *argv],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"attacker did not start: {proc.stderr.read()}")
        return proc

    def send(self, packets: list[bytes], rate: float, duration: float, wait: bool = True):
        """Send `packets` round-robin at `rate` per second for `duration` s. With wait: the report
        {sent, errors, seconds, rate}; else the process (call finish() on it)."""
        self.count += 1
        path = self.tmp / f"attack-{self.count}.b64"
        path.write_text("".join(base64.b64encode(p).decode() + "\n" for p in packets))
        proc = self._start(["send", str(path), f"{self.broadcast}:{PORT}", str(rate), str(duration)])
        return self.finish(proc) if wait else proc

    @staticmethod
    def finish(proc: subprocess.Popen, timeout: float = 120) -> dict:
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"attacker failed: {err}")
        return json.loads(out.strip().splitlines()[-1])

    def sniff(self, duration: float) -> tuple[subprocess.Popen, pathlib.Path]:
        self.count += 1
        path = self.tmp / f"sniff-{self.count}.jsonl"
        return self._start(["sniff", str(path), str(PORT), "0", str(duration)]), path

    @staticmethod
    def captured(path: pathlib.Path) -> list[dict]:
        """[{t, src, data, msg}] of what a sniff recorded; msg parsed without a key (None if it is not)."""
        found = []
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            data = base64.b64decode(entry["b64"])
            try:
                msg = wire.decode(data)
            except wire.WireError:
                msg = None
            found.append({"t": entry["t"], "src": entry["src"], "data": data, "msg": msg})
        return found


# ---------------------------------------------------------------------------------------------
# payloads


def crashers() -> list[bytes]:
    """The issue-8 datagrams that ended `hbagent run` or cost milliseconds before the key was checked."""
    entries = json.loads((CORPUS / "wire.json").read_text())["entries"]
    return [base64.b64decode(e["b64"]) for e in entries]


def garbage(count: int, seed: int = 8) -> list[bytes]:
    """Random bytes, and random bytes behind each format's head."""
    rng = random.Random(seed)
    heads = [b"", b"###\n", b">>>\n"]
    return [
        rng.choice(heads) + bytes(rng.randrange(256) for _round in range(rng.randint(1, 300)))
        for _round in range(count)
    ]


def forged(count: int, src: str = "web2", seed: int = 8) -> list[bytes]:
    """Well-formed packets from `src` that would change the cluster (shutdone, status dead, hb_takeover,
    a status with a huge deadtime), signed with keys that are not the cluster's: the token is wrong."""
    rng = random.Random(seed)
    kinds = [dict(t="shutdone", st="dead"), dict(t="status", st="dead", dt="2710", protocol="1"),
             dict(t="hb_takeover", rsc_hold="all"), dict(t="status", st="active", dt="f" * 16),
             dict(t="ask_resources", rsc_hold="all", info="me")]  # fmt: skip
    packets = []
    for i in range(count):
        msg = Message.of(**rng.choice(kinds), src=src, srcuuid=bytes(16), seq=format(10_000 + i, "x"),
                         hg=format(0x7FFFFFFF, "x"), ts=format(1_800_000_000 + i, "x"), ttl="3")  # fmt: skip
        guess = AuthKeys(3, {3: ("md5", b"guess-%d" % rng.randrange(10**6))})
        packets.append(wire.encode(msg, guess))
    return packets
