"""Two podman nodes from the Heartbeat image (real Heartbeat 3.0.6 and/or hbagent) on a network of their own,
for bench/split_brain_bench.py's engine comparison: partition heal with a real 3.0.6 peer.

Everything carries the label io.hakit.lab=<label>; the network is hakit-<label> with the given subnet. Each
node: systemd, the Debian heartbeat package (IPaddr resource), the agent zipapp; the VIP is the group's
only resource. Holders come from `ip -ts monitor address` streamed out of each container.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import re
import subprocess
import threading
import time

IMAGE = "localhost/hakit-heartbeat:bookworm"
AGENT_PATH = "/usr/local/lib/hakit/hbagent.pyz"
TIMINGS = "keepalive 500ms\nwarntime 1\ndeadtime 3\ninitdead 10"


def podman(*args: str, check: bool = True, timeout: float = 120, input_text: str | None = None):
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, errors="replace", timeout=timeout,
                          input=input_text, check=False)  # fmt: skip
    if check and proc.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return proc


def wait(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


class PodmanPair:
    def __init__(self, label: str, subnet: str, pyz: str, image: str = IMAGE):
        net = ipaddress.IPv4Network(subnet)
        base = str(net.network_address).rsplit(".", 1)[0]
        self.label, self.network, self.subnet, self.pyz, self.image = (
            label,
            f"hakit-{label}",
            subnet,
            pyz,
            image,
        )
        self.ips = {"web1": f"{base}.11", "web2": f"{base}.12"}
        self.vip = f"{base}.50"
        self.engines: dict[str, str] = {}
        self.events: list[tuple[float, str, bool]] = []
        self.monitors: list[subprocess.Popen] = []
        self.offset = time.time() - time.monotonic()

    def container(self, name: str) -> str:
        return f"hakit-{self.label}-{name}"

    def sh(self, name: str, script: str, check: bool = True, timeout: float = 60):
        return podman("exec", "-i", self.container(name), "bash", "-c", script, check=check, timeout=timeout)

    # -- lab ----------------------------------------------------------------------------------
    def remove(self) -> None:
        ids = podman("ps", "-aq", "--filter", f"label=io.hakit.lab={self.label}", check=False).stdout.split()
        if ids:
            podman("rm", "-f", "-t", "0", *ids, check=False)
        nets = podman(
            "network", "ls", "-q", "--filter", f"label=io.hakit.lab={self.label}", check=False
        ).stdout
        if nets.split():
            podman("network", "rm", "-f", *nets.split(), check=False)

    def up(self) -> None:
        self.remove()
        podman(
            "network",
            "create",
            "--subnet",
            self.subnet,
            "--label",
            f"io.hakit.lab={self.label}",
            self.network,
        )
        hosts = [f"--add-host={n}:{ip}" for n, ip in self.ips.items()]
        for name, ip in self.ips.items():
            podman("run", "-d", "--name", self.container(name), "--hostname", name, "--network", self.network,
                   "--ip", ip, *hosts, "--systemd=always", "--cap-add", "NET_ADMIN,NET_RAW",
                   "--label", f"io.hakit.lab={self.label}", "--label", f"io.hakit.node={name}", self.image)  # fmt: skip
        for name in self.ips:
            wait(lambda n=name: self.sh(n, "systemctl is-system-running", check=False).stdout.strip()
                 in ("running", "degraded"), timeout=90)  # fmt: skip
            self.sh(name, f"mkdir -p {AGENT_PATH.rsplit('/', 1)[0]}")
            podman("cp", self.pyz, f"{self.container(name)}:{AGENT_PATH}")

    def configure(self) -> None:
        ha_cf = (f"logfile /var/log/ha-log\n{TIMINGS}\nudpport 694\nbcast eth0\nauto_failback on\n"
                 "node web1 web2\ncrm off\n")  # fmt: skip
        for name in self.ips:
            script = (
                f"cat > /etc/ha.d/ha.cf <<'EOF'\n{ha_cf}EOF\n"
                f"echo 'web1 IPaddr::{self.vip}/24/eth0' > /etc/ha.d/haresources\n"
                "printf 'auth 3\\n3 md5 split-brain-bench\\n' > /etc/ha.d/authkeys; chmod 600 /etc/ha.d/authkeys\n"
            )
            self.sh(name, script)

    # -- a run --------------------------------------------------------------------------------
    def reset(self) -> None:
        for name in self.ips:
            self.sh(name, "systemctl kill --signal=SIGKILL heartbeat hbagent 2>/dev/null; sleep 0.5; "
                          "systemctl reset-failed heartbeat hbagent 2>/dev/null; nft delete table inet hakit_cut "
                          f"2>/dev/null; ip addr del {self.vip}/24 dev eth0 2>/dev/null; rm -rf /var/lib/hbagent; "
                          ": > /var/log/ha-log; true", check=False)  # fmt: skip

    def start(self, name: str, engine: str) -> None:
        self.engines[name] = engine
        if engine == "heartbeat":
            self.sh(name, "systemctl start heartbeat", timeout=120)
        else:
            self.sh(name, "systemd-run --quiet --unit hbagent --property=KillMode=mixed "
                          f"python3 {AGENT_PATH} run --config-dir /etc/ha.d --state-dir /var/lib/hbagent")  # fmt: skip

    def has_vip(self, name: str) -> bool:
        out = self.sh(name, "ip -4 -o addr show dev eth0", check=False).stdout
        return f"inet {self.vip}/" in out

    def holders(self) -> list[str]:
        return [n for n in self.ips if self.has_vip(n)]

    def settled(self) -> bool:
        """web2 is a member and the VIP is on web1 only."""
        return self.holders() == ["web1"]

    def monitor(self) -> None:
        self.events = []
        pattern = re.compile(r"^\[([\d\-T:.]+)\] (Deleted )?\d+: \S+\s+inet " + re.escape(self.vip) + "/")
        for name in self.ips:
            proc = subprocess.Popen(["podman", "exec", self.container(name), "ip", "-ts", "monitor", "address"],
                                    stdout=subprocess.PIPE, text=True)  # fmt: skip
            self.monitors.append(proc)

            def read(n=name, p=proc):
                for line in p.stdout:
                    match = pattern.match(line)
                    if match:
                        wall = datetime.datetime.fromisoformat(match.group(1)).timestamp()
                        self.events.append((wall - self.offset, n, match.group(2) is None))

            threading.Thread(target=read, daemon=True).start()
        time.sleep(1)

    def stop_monitor(self) -> None:
        for proc in self.monitors:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.monitors = []

    def cut(self, name: str) -> None:
        self.sh(name, "nft add table inet hakit_cut; "
                      "nft add chain inet hakit_cut in '{ type filter hook input priority 0; }'; "
                      "nft add chain inet hakit_cut out '{ type filter hook output priority 0; }'; "
                      "nft add rule inet hakit_cut in udp dport 694 drop; "
                      "nft add rule inet hakit_cut out udp dport 694 drop")  # fmt: skip

    def restore(self, name: str) -> None:
        self.sh(name, "nft delete table inet hakit_cut")

    def timeline(self, initial: dict[str, bool]) -> list[tuple[float, tuple[str, ...]]]:
        present = dict(initial)
        line: list[tuple[float, tuple[str, ...]]] = [(0.0, tuple(n for n in self.ips if present[n]))]
        for t, name, on in sorted(self.events):
            present[name] = on
            holders = tuple(n for n in self.ips if present[n])
            if holders != line[-1][1]:
                line.append((t, holders))
        return line

    def partition_heal(self, engines: dict[str, str], cut_s: float, after_s: float = 40.0) -> dict:
        """Start both nodes, cut heartbeat UDP on web1 both ways for cut_s, restore, watch for after_s."""
        self.reset()
        self.start("web1", engines["web1"])
        if not wait(lambda: self.has_vip("web1"), timeout=60):
            raise RuntimeError("web1 never took the VIP")
        self.start("web2", engines["web2"])
        time.sleep(15)  # join, start-up handshake, auto_failback
        if not wait(self.settled, timeout=60):
            raise RuntimeError(f"never settled: holders {self.holders()}")
        self.monitor()
        try:
            initial = {n: self.has_vip(n) for n in self.ips}
            t0 = time.monotonic()
            self.cut("web1")
            time.sleep(cut_s)
            heal = time.monotonic()
            self.restore("web1")
            time.sleep(after_s)
            end = time.monotonic()
        finally:
            self.stop_monitor()
        line = self.timeline(initial)
        line[0] = (t0, line[0][1])
        logs_dir = os.environ.get("HAKIT_SPLITBRAIN_LOGS")
        if logs_dir:  # for a reader who wants the nodes' own account of the heal
            for name, text in self.logs().items():
                path = os.path.join(logs_dir, f"{engines['web1']}-{engines['web2']}-{name}-{int(t0)}.log")
                with open(path, "w") as handle:
                    handle.write(text)
        return summarize(line, t0, heal, end)

    def logs(self) -> dict[str, str]:
        out = {}
        for name, engine in self.engines.items():
            cmd = (
                "cat /var/log/ha-log" if engine == "heartbeat" else "journalctl -u hbagent --no-pager -o cat"
            )
            out[name] = self.sh(name, cmd, check=False).stdout
        return out


def summarize(line, t0: float, heal: float, end: float) -> dict:
    """Dual/none seconds after the heal, and when one holder (for good) came back."""
    dual = none = 0.0
    for (t, holders), nxt in zip(line, [*line[1:], (end, ())], strict=True):
        lo, hi = max(t, heal), min(nxt[0], end)
        if hi > lo:
            if len(holders) >= 2:
                dual += hi - lo
            elif not holders:
                none += hi - lo
    settled = None
    for t, holders in line:
        settled = (t if settled is None else settled) if len(holders) == 1 else None
    one_holder_after = None if settled is None else max(0.0, settled - heal)
    first = next((t for t, holders in line if t >= heal and len(holders) == 1), None)
    text = "; ".join(f"{t - t0:+.2f}s {'+'.join(h) or 'none'}" for t, h in line)
    return {"dual_after_heal": dual, "none_after_heal": none, "one_holder_after": one_holder_after,
            "first_one_holder_after": None if first is None else first - heal,
            "timeline": f"{text} (heal at +{heal - t0:.2f}s)"}  # fmt: skip
