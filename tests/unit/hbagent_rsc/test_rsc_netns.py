"""IPaddr for real: two network namespaces joined by a veth pair (root only, skipped otherwise).

Namespace A runs the executor (real `ip`, real AF_PACKET socket); namespace B captures the ARP
frames. Addresses from the netns range of docs/ARCHITECTURE.md (10.213.30.0/24).
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from hbagent.resources import ARP_REPLY, ARP_REQUEST, arp_frame

pytestmark = pytest.mark.netns

ROOT = pathlib.Path(__file__).resolve().parents[3]
NS_A, NS_B = f"hakit-rsc-{os.getpid()}-a", f"hakit-rsc-{os.getpid()}-b"
VETH = f"hkr{os.getpid() % 100000}"  # + a/b: short enough for IFNAMSIZ
VIP = "10.213.30.50"

CAPTURE = """
import json, socket, sys, time
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
sock.bind(("eth0", 0x0806))
sock.settimeout(0.5)
print("ready", flush=True)
frames, deadline = [], time.monotonic() + 20
while len(frames) < int(sys.argv[1]) and time.monotonic() < deadline:
    try:
        frame = sock.recv(2048)[:42]
    except TimeoutError:
        continue
    if frame[28:32] == socket.inet_aton(sys.argv[2]):  # sender IP: only the VIP's announcements
        frames.append(frame.hex())
print(json.dumps(frames), flush=True)
"""

ACTOR = """
import json, subprocess, sys
from hbagent.config import Resource, ResourceGroup
from hbagent.resources import ArpSettings, ResourceExecutor
vip = sys.argv[1]
logs = []
x = ResourceExecutor(arp=ArpSettings(count=3, interval=0.05), log=lambda lvl, text: logs.append(text))
g = ResourceGroup("web1", "IPaddr::" + vip, [Resource("IPaddr::" + vip, "IPaddr", [vip])])
started = x.start_group(g)
x.announcers.get(vip).join(10)
status = x.group_status(g)
shown = json.loads(subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", "eth0"], capture_output=True, text=True).stdout)
again = x.start_group(g)
stopped = x.stop_group(g)
after = x.group_status(g)
mac = open("/sys/class/net/eth0/address").read().strip()
print(json.dumps({"started": started.ok, "reason": started.reason, "status": status, "again": again.ok,
                  "addr": shown[0]["addr_info"], "stopped": stopped.ok, "after": after, "mac": mac, "logs": logs}))
"""


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


@pytest.fixture
def namespaces():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2")
    try:
        _ip("netns", "add", NS_A)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot create network namespaces: {exc.stderr.strip()}")
    try:
        _ip("netns", "add", NS_B)
        _ip("link", "add", f"{VETH}a", "type", "veth", "peer", "name", f"{VETH}b")
        for ns, end, addr in ((NS_A, "a", "10.213.30.11/24"), (NS_B, "b", "10.213.30.12/24")):
            dev = f"{VETH}{end}"
            _ip("link", "set", dev, "netns", ns)
            _ip("-n", ns, "link", "set", dev, "name", "eth0")
            _ip("-n", ns, "addr", "add", addr, "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield
    finally:
        _ip("link", "del", f"{VETH}a", check=False)  # if setup stopped half-way
        for ns in (NS_A, NS_B):
            _ip("netns", "del", ns, check=False)


def test_ipaddr_and_gratuitous_arp_in_namespaces(namespaces):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    capture = subprocess.Popen(
        ["ip", "netns", "exec", NS_B, sys.executable, "-c", CAPTURE, "6", VIP],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert capture.stdout.readline().strip() == "ready"
        actor = subprocess.run(
            ["ip", "netns", "exec", NS_A, sys.executable, "-c", ACTOR, VIP],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert actor.returncode == 0, actor.stderr
        result = json.loads(actor.stdout)
        frames = json.loads(capture.communicate(timeout=60)[0])
    finally:
        if capture.poll() is None:
            capture.kill()
            capture.wait()

    assert result["started"], result
    assert result["status"] == "ALL" and result["again"]
    vip = [a for a in result["addr"] if a["local"] == VIP]
    # nic and netmask came from the route table; a secondary with Heartbeat's alias label
    assert vip and vip[0]["prefixlen"] == 24 and vip[0]["label"] == "eth0:0"
    assert vip[0].get("broadcast") == "10.213.30.255" and vip[0].get("secondary") is True
    assert result["stopped"] and result["after"] == "NONE"

    mac = bytes.fromhex(result["mac"].replace(":", ""))
    request, reply = arp_frame(ARP_REQUEST, mac, VIP).hex(), arp_frame(ARP_REPLY, mac, VIP).hex()
    assert frames == [request, reply] * 3
