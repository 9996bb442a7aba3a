"""Network-namespace lab for multi-node tests and bench/agent_bench.py (root + iproute2). No pytest here.

Topology: one namespace holding a bridge, one namespace per node joined to it by a veth pair whose
node end is called eth0, optionally a client namespace; subnet 10.213.30.0/24 (nodes .11, .12, …,
client .100). Every namespace is named <prefix>-<x> with a prefix starting with `hakit-`.

Also here: the resource.d script of a tiny web service (the lab's "It works! Principal/Secondaire"
Apache, in stdlib Python) and a client that probes the VIP over HTTP every 100 ms.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[2]
SUBNET = "10.213.30"
SUBNET2 = "10.213.31"  # the second heartbeat network (add_network), nodes .11, .12, …
CLIENT_ADDRESS = f"{SUBNET}.100"
PING_ADDRESS = f"{SUBNET}.1"  # a ping node (add_host), like a router on the service network
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
AUTHKEYS = "auth 3\n3 md5 netns-test-key\n"
HTTP_PORT = 80
SERVICE = "hakithttp"  # the resource.d script name of the web service


def run(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=timeout)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    """Poll `predicate` until it returns something truthy; the last value otherwise."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def netns_unusable() -> str | None:
    """None when this machine can run the lab, else why not."""
    if os.geteuid() != 0:
        return "netns tests need root (ip netns, veth, bridge)"
    if run("sh", "-c", "command -v ip", check=False).returncode != 0:
        return "netns tests need iproute2's `ip`"
    probe = f"hakit-nt-probe-{os.getpid()}"
    result = run("ip", "netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"cannot create network namespaces here: {result.stderr.strip()}"
    run("ip", "netns", "del", probe, check=False)
    return None


def build_agent(out: pathlib.Path) -> pathlib.Path:
    """The zipapp, built from this checkout (what `make agent` ships)."""
    run(sys.executable, str(ROOT / "scripts" / "build-agent.py"), str(out))
    return out


# ---------------------------------------------------------------------------------------------
# the web service (a Heartbeat resource.d script: `hakithttp start|stop|status`)

_SERVICE_SCRIPT = r'''#!/usr/bin/python3 -S
"""Test web service for the hakit netns lab: answers every GET with one line, like the lab's Apache.
Heartbeat resource.d convention: start|stop|status; status prints running/stopped."""
import os, signal, socket, sys, time

PAGE = @PAGE@
PIDFILE = @PIDFILE@
PORT = @PORT@


def alive(pid):
    # a killed server stays a zombie until its (adoptive) parent reaps it: that is not running
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def pid_running():
    try:
        with open(PIDFILE) as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def listening():
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=0.2):
            return True
    except OSError:
        return False


def serve():
    # a bare socket server: starts in milliseconds (http.server alone takes ~50 ms to import)
    import threading

    body = (PAGE + "\n").encode()
    answer = (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
              b"Connection: close\r\n\r\n" % len(body)) + body
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", PORT))
    listener.listen(128)
    with open(PIDFILE + ".tmp", "w") as handle:
        handle.write(str(os.getpid()))
    os.replace(PIDFILE + ".tmp", PIDFILE)

    def handle(conn):
        with conn:
            conn.settimeout(5)
            request = b""
            try:
                while b"\r\n\r\n" not in request and len(request) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                conn.sendall(answer)
            except OSError:
                pass

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def start():
    if pid_running():
        return 0
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            try:
                serve()
            finally:
                os._exit(1)
        os._exit(0)
    os.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if pid_running() and listening():
            return 0
        time.sleep(0.005)
    print("web service did not come up")
    return 1


def stop():
    pid = pid_running()
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    try:
        os.unlink(PIDFILE)
    except FileNotFoundError:
        pass
    return 0


def status():
    if pid_running():
        print("running")
        return 0
    print("stopped")
    return 3


sys.exit({"start": start, "stop": stop, "status": status}[sys.argv[-1]]())
'''


def service_script(page: str, pidfile: str, port: int = HTTP_PORT) -> str:
    return (_SERVICE_SCRIPT.replace("@PAGE@", repr(page)).replace("@PIDFILE@", repr(pidfile))
            .replace("@PORT@", str(port)))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# the HTTP probe (runs in the client namespace)

_PROBE = r"""
import json, select, socket, sys, threading, time
vip, port, interval, timeout, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
lock = threading.Lock()

def complete(data):
    head, sep, payload = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(payload) >= int(value)
    return False

def probe(n):
    start = time.monotonic()
    ok, body, err = False, "", ""
    try:
        with socket.create_connection((vip, port), timeout=timeout) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
            data = b""
            while not complete(data):  # as HTTP clients do: Content-Length bytes, else until EOF
                left = timeout - (time.monotonic() - start)
                if left <= 0:
                    raise TimeoutError("timed out")
                sock.settimeout(left)
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        head, _, payload = data.partition(b"\r\n\r\n")
        ok = head.startswith(b"HTTP/1.0 200")
        body = payload.decode(errors="replace").strip()
        err = "" if ok else "bad answer: " + head[:40].decode(errors="replace")
    except OSError as exc:
        err = f"{type(exc).__name__}: {exc}"
    line = json.dumps({"n": n, "t": start, "dt": round(time.monotonic() - start, 4), "ok": ok, "body": body, "err": err})
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

threads = []
begin = time.monotonic()
n = 0
while time.monotonic() - begin < limit:
    thread = threading.Thread(target=probe, args=(n,), daemon=True)
    thread.start()
    threads.append(thread)
    n += 1
    wait = begin + n * interval - time.monotonic()
    if wait > 0 and select.select([sys.stdin], [], [], wait)[0] and not sys.stdin.buffer.read1(1):
        break  # the controller closed our stdin: stop
for thread in threads:
    thread.join(timeout + 1)
"""


@dataclass
class ProbeResult:
    n: int
    t: float  # monotonic start time (the machine's clock, same in every namespace)
    dt: float
    ok: bool
    body: str
    err: str


class Probe:
    """HTTP GET of the VIP every `interval` s from a namespace, each on a new connection with a
    `timeout` (a dropped SYN is retried by TCP after 1 s: with a 1 s timeout it counts as failed)."""

    def __init__(self, netns: str, vip: str, out: pathlib.Path, interval: float = 0.1, timeout: float = 1.0,
                 limit: float = 600.0, port: int = HTTP_PORT):  # fmt: skip
        self.out = out
        self._handle = open(out, "wb")  # noqa: SIM115 - lives as long as the probe
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, PYTHON, "-c", _PROBE, vip, str(port), str(interval), str(timeout),
             str(limit)],
            stdin=subprocess.PIPE, stdout=self._handle, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def results(self) -> list[ProbeResult]:
        found = []
        for line in self.out.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError, TypeError):
                found.append(ProbeResult(**json.loads(line)))
        return sorted(found, key=lambda r: r.t)

    def stop(self) -> list[ProbeResult]:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._handle.close()
        return self.results()


def between(results: list[ProbeResult], start: float, end: float | None = None) -> list[ProbeResult]:
    return [r for r in results if r.t >= start and (end is None or r.t < end)]


def disruption(results: list[ProbeResult], since: float) -> float:
    """Seconds from the first failed probe after `since` to the first probe after which every probe
    succeeded (0 when none failed)."""
    after = between(results, since)
    failed = [i for i, r in enumerate(after) if not r.ok]
    if not failed:
        return 0.0
    recovered = next((r for r in after[failed[-1] + 1 :] if r.ok), None)
    end = recovered.t if recovered else after[-1].t + after[-1].dt
    return end - after[failed[0]].t


def serving(results: list[ProbeResult], since: float, page: str) -> float | None:
    """Seconds from `since` to the first successful probe answered with `page` (None if never)."""
    hit = next((r for r in between(results, since) if r.ok and r.body == page), None)
    return None if hit is None else hit.t - since


# ---------------------------------------------------------------------------------------------
# namespaces and agents


class Node:
    def __init__(self, lab: Lab, name: str, address: str):
        self.lab, self.name, self.address = lab, name, address
        self.netns = f"{lab.prefix}-{name}"
        self.dir = lab.tmp / name
        self.config_dir = self.dir / "ha.d"
        self.state_dir = self.dir / "state"

    def ns(self, *argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        return run("ip", "netns", "exec", self.netns, *argv, check=check, timeout=timeout)

    def addresses(self) -> str:
        return run("ip", "-n", self.netns, "-4", "-o", "addr", "show", "dev", "eth0").stdout

    def has_address(self, address: str) -> bool:
        return re.search(rf"inet {re.escape(address)}/", self.addresses()) is not None

    def install_service(self, page: str, port: int = HTTP_PORT) -> pathlib.Path:
        script = self.config_dir / "resource.d" / SERVICE
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(service_script(page, str(self.dir / f"{SERVICE}.pid"), port))
        script.chmod(0o755)
        return script

    # -- cutting links (nftables in the node's namespace; every table is named hakit_*) ----------
    def nft(self, table: str, *rules: str) -> None:
        """A table of its own with input and output chains holding `rules` (nft rule text)."""
        script = [f"add table inet {table}",
                  f"add chain inet {table} in {{ type filter hook input priority 0; }}",
                  f"add chain inet {table} out {{ type filter hook output priority 0; }}"]  # fmt: skip
        script += [f"add rule inet {table} {rule}" for rule in rules]
        subprocess.run(["ip", "netns", "exec", self.netns, "nft", "-f", "-"], input="\n".join(script) + "\n",
                       check=True, capture_output=True, text=True, timeout=30)  # fmt: skip

    def unnft(self, table: str) -> None:
        self.ns("nft", "delete", "table", "inet", table, check=False)

    def cut_heartbeat(self, dev: str | None = None, port: int = 694) -> None:
        """Drop heartbeat UDP both ways (on one interface, or all): the service path stays up."""
        where = f'iifname "{dev}" ' if dev else ""
        out = f'oifname "{dev}" ' if dev else ""
        self.nft(f"hakit_cut_{dev or 'all'}", f"in {where}udp dport {port} drop",
                 f"out {out}udp dport {port} drop")  # fmt: skip

    def restore_heartbeat(self, dev: str | None = None) -> None:
        self.unnft(f"hakit_cut_{dev or 'all'}")

    def cut_from(self, address: str) -> None:
        """This node loses its path to `address` (both ways), nothing else: an uplink loss."""
        self.nft("hakit_uplink", f"in ip saddr {address} drop", f"out ip daddr {address} drop")

    def restore_to(self, address: str) -> None:
        self.unnft("hakit_uplink")

    def crash_node(self, vip: str) -> None:
        """The machine dies: its web service dies with it and its addresses go away."""
        pidfile = self.dir / f"{SERVICE}.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()
        run("ip", "-n", self.netns, "addr", "del", f"{vip}/24", "dev", "eth0", check=False)


class Agent(Node):
    def __init__(self, lab: Lab, name: str, address: str):
        super().__init__(lab, name, address)
        self.log_path = self.dir / "agent.log"
        self.process: subprocess.Popen | None = None

    def start(self, resources: bool = False, env: dict | None = None) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        argv = ["ip", "netns", "exec", self.netns, PYTHON, str(self.lab.pyz), "run", "--config-dir",
                str(self.config_dir), "--state-dir", str(self.state_dir), "--node", self.name]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*argv, *([] if resources else ["--no-resources"])],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env,
            )  # fmt: skip

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.running():
            os.killpg(self.process.pid, signum)

    def stop(self) -> None:
        if self.process is None:
            return
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def hbagent(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return run(PYTHON, str(self.lab.pyz), *args, "--state-dir", str(self.state_dir), check=False,
                   timeout=timeout)  # fmt: skip

    def cl_status(self, *args: str) -> subprocess.CompletedProcess:
        return run(PYTHON, str(self.lab.pyz), "cl-status", "--state-dir", str(self.state_dir), *args,
                   check=False)  # fmt: skip

    def status(self) -> dict | None:
        result = self.hbagent("status", "--json")
        return json.loads(result.stdout) if result.returncode == 0 else None

    def rscstatus(self) -> str:
        return self.cl_status("rscstatus").stdout.strip()

    def status_line(self) -> str:
        """What `systemctl status` would show (the daemon's STATUS= summary)."""
        status = self.status() or {}
        return status.get("summary", "")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Lab:
    def __init__(self, tmp: pathlib.Path, pyz: pathlib.Path | None, prefix: str = "hakit-nt"):
        if not prefix.startswith("hakit-"):
            raise ValueError("namespaces of the project are named hakit-*")
        self.tmp, self.pyz = tmp, pyz
        self.prefix = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.bridge_ns = f"{self.prefix}-br"
        self.client_ns: str | None = None
        self.namespaces: list[str] = []
        self.agents: dict[str, Agent] = {}

    def _netns(self, name: str) -> None:
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    def _attach(self, netns: str, address: str, index: int) -> None:
        port = f"hkp{index}"
        run("ip", "-n", self.bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0",
            "netns", netns)  # fmt: skip
        run("ip", "-n", self.bridge_ns, "link", "set", port, "master", "br0", "up")
        run("ip", "-n", netns, "addr", "add", f"{address}/24", "brd", "+", "dev", "eth0")
        run("ip", "-n", netns, "link", "set", "eth0", "up")

    def add_network(self, subnet: str = SUBNET2, bridge: str = "br1", ifname: str = "eth1") -> None:
        """A second bridge: every node gets `ifname` with <subnet>.<11, 12, …> (a second heartbeat link)."""
        run("ip", "-n", self.bridge_ns, "link", "add", bridge, "type", "bridge")
        run("ip", "-n", self.bridge_ns, "link", "set", bridge, "up")
        for index, agent in enumerate(self.agents.values(), start=1):
            port = f"hk{bridge}p{index}"
            run("ip", "-n", self.bridge_ns, "link", "add", port, "type", "veth", "peer", "name", ifname,
                "netns", agent.netns)  # fmt: skip
            run("ip", "-n", self.bridge_ns, "link", "set", port, "master", bridge, "up")
            run(
                "ip", "-n", agent.netns, "addr", "add", f"{subnet}.{10 + index}/24", "brd", "+", "dev", ifname
            )
            run("ip", "-n", agent.netns, "link", "set", ifname, "up")

    def add_host(self, name: str, address: str = PING_ADDRESS) -> str:
        """A bare namespace on the service bridge (a ping node: the kernel answers echo requests)."""
        netns = f"{self.prefix}-{name}"
        self._netns(netns)
        self._attach(netns, address, 90 + len(self.namespaces))
        return netns

    def build(self, names: list[str], client: bool = False, node_class=Agent) -> None:
        self._netns(self.bridge_ns)
        run("ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")
        for index, name in enumerate(names, start=1):
            agent = node_class(self, name, f"{SUBNET}.{10 + index}")
            self._netns(agent.netns)
            self._attach(agent.netns, agent.address, index)
            agent.dir.mkdir(parents=True, exist_ok=True)
            self.agents[name] = agent
        if client:
            self.client_ns = f"{self.prefix}-client"
            self._netns(self.client_ns)
            self._attach(self.client_ns, CLIENT_ADDRESS, 99)

    def configure(self, media: str, timings: str, haresources: str = "", auto_failback: str = "on",
                  agent_conf: str | None = None) -> None:  # fmt: skip
        nodes = " ".join(self.agents)
        for agent in self.agents.values():
            agent.config_dir.mkdir(parents=True, exist_ok=True)
            own_media = media.format(peer=next(a.address for a in self.agents.values() if a is not agent))
            (agent.config_dir / "ha.cf").write_text(
                f"{timings}\nudpport 694\n{own_media}\nnode {nodes}\nauto_failback {auto_failback}\n"
            )
            (agent.config_dir / "haresources").write_text(haresources)
            keys = agent.config_dir / "authkeys"
            keys.write_text(AUTHKEYS)
            keys.chmod(0o600)
            if agent_conf is not None:
                (agent.config_dir / "hbagent.conf").write_text(agent_conf)

    def probe(self, vip: str, name: str = "probe", **kw) -> Probe:
        if self.client_ns is None:
            raise RuntimeError("build(..., client=True) first")
        return Probe(self.client_ns, vip, self.tmp / f"{name}.jsonl", **kw)

    def get(self, address: str, port: int = HTTP_PORT) -> str | None:
        """One GET from the client namespace: the page, or None."""
        code = ("import sys, urllib.request\n"
                "try:\n    print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode().strip())\n"
                "except OSError as exc:\n    sys.exit(str(exc))\n")  # fmt: skip
        result = run("ip", "netns", "exec", self.client_ns, PYTHON, "-c", code, f"http://{address}:{port}/",
                     check=False)  # fmt: skip
        return result.stdout.strip() if result.returncode == 0 else None

    def holders(self, address: str) -> list[str]:
        return [name for name, agent in self.agents.items() if agent.has_address(address)]

    def teardown(self) -> None:
        for agent in self.agents.values():
            if isinstance(agent, Agent):
                agent.stop()
        for agent in self.agents.values():  # the web services started by resource scripts
            pidfile = agent.dir / f"{SERVICE}.pid"
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
        for name in reversed(self.namespaces):
            run("ip", "netns", "del", name, check=False)


# ---------------------------------------------------------------------------------------------
# who holds the VIP, over time (`ip -ts monitor address` in every node namespace)


class HolderMonitor:
    """Every add/delete of `address` on every node, with monotonic times; then: how long it was on two
    nodes, on none, and the holders over time. Starts from what `ip addr` shows at creation."""

    def __init__(self, lab: Lab, address: str):
        self.address = address
        self.offset = time.time() - time.monotonic()
        self.names = list(lab.agents)
        self.events: list[tuple[float, str, bool]] = []  # (t, node, present)
        self.start = time.monotonic()
        self.initial = {name: agent.has_address(address) for name, agent in lab.agents.items()}
        self.procs = []
        for name, node in lab.agents.items():
            proc = subprocess.Popen(["ip", "-n", node.netns, "-ts", "monitor", "address"], stdout=subprocess.PIPE,
                                    text=True)  # fmt: skip
            self.procs.append(proc)
            threading.Thread(target=self._read, args=(name, proc), daemon=True).start()

    def _read(self, name: str, proc) -> None:
        pattern = re.compile(r"^\[([\d\-T:.]+)\] (Deleted )?\d+: \S+\s+inet " + re.escape(self.address) + "/")
        for line in proc.stdout:
            match = pattern.match(line)
            if match:
                wall = datetime.datetime.fromisoformat(match.group(1)).timestamp()
                self.events.append((wall - self.offset, name, match.group(2) is None))

    def timeline(self) -> list[tuple[float, tuple[str, ...]]]:
        """(t, holders) from the start, one entry per change."""
        present = dict(self.initial)
        out = [(self.start, tuple(n for n in self.names if present[n]))]
        for t, name, on in sorted(self.events):
            present[name] = on
            holders = tuple(n for n in self.names if present[n])
            if holders != out[-1][1]:
                out.append((t, holders))
        return out

    def seconds(self, start: float, end: float) -> dict[str, float]:
        """Total seconds within [start, end) with the address on two or more nodes, and on none."""
        totals = {"dual": 0.0, "none": 0.0}
        line = self.timeline()
        for (t, holders), nxt in zip(line, [*line[1:], (end, ())], strict=True):
            lo, hi = max(t, start), min(nxt[0], end)
            if hi > lo:
                if len(holders) >= 2:
                    totals["dual"] += hi - lo
                elif not holders:
                    totals["none"] += hi - lo
        return totals

    def longest(self, start: float, end: float) -> tuple[float, float]:
        """(longest stretch with the address on no node, longest on two or more) within [start, end), in s."""
        longest = {"none": 0.0, "dual": 0.0}
        line = self.timeline()
        for (t, holders), nxt in zip(line, [*line[1:], (end, ())], strict=True):
            lo, hi = max(t, start), min(nxt[0], end)
            kind = "dual" if len(holders) >= 2 else "none" if not holders else None
            if kind and hi > lo:
                longest[kind] = max(longest[kind], hi - lo)
        return longest["none"], longest["dual"]

    def holders_at(self, t: float) -> tuple[str, ...]:
        current: tuple[str, ...] = ()
        for when, holders in self.timeline():
            if when > t:
                break
            current = holders
        return current

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


def start_web_pair(web1, web2, vip: str, wait_for) -> None:
    """web1 first (it takes its group after initdead), then web2 joins: the usual bring-up of two agents
    whose first group (web1's) holds `vip`."""
    web1.start(resources=True)
    assert wait_for(lambda: web1.has_address(vip), timeout=30), web1.log()
    web2.start(resources=True)
    assert wait_for(lambda: web1.cl_status("nodestatus", "web2").stdout == "active\n", timeout=30)
    assert wait_for(lambda: web2.rscstatus() == "local" and web1.rscstatus() == "local", timeout=30)


def describe(results: list[ProbeResult]) -> str:
    """Failed probes, for assertion messages."""
    bad = [r for r in results if not r.ok]
    return f"{len(bad)} of {len(results)} failed: " + "; ".join(
        f"#{r.n} +{r.t - results[0].t:.2f}s {r.err}" for r in bad[:10]
    )
