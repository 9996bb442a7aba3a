"""How much hostile traffic hbagent absorbs: packets per second of garbage and of forged packets at
<= 50 % of one core, with no false death of the peer, and the control socket's latency meanwhile.

Lab (tests/netns/netlab.py): namespaces <prefix>-<run>-{br,web1,web2,client} on a bridge, 10.213.30.0/24;
web1 (the victim) and web2 run the freshly built zipapp with a VIP each (haresources `web1 IPaddr::.50`,
`web2 IPaddr::.51`), bcast eth0. The attacker (tests/netns/attacker.py) runs in the client namespace and
sends to the broadcast address, paced, for --seconds per step, rates doubling from --start-rate until the
victim uses more than half a core, the peer is declared dead, or the attacker cannot send any faster.

Kinds of traffic:
  garbage   random bytes, alone or behind "###\\n" / ">>>\\n" (1-300 bytes)
  forged    well-formed shutdone / status dead / hb_takeover / ask_resources from web2, wrong key (~330 B)
  large     forged messages of ~30 kB, classic and netstring (before issue 8: ~60 ms of parsing each)
Per step: the victim's CPU (utime+stime of its process from /proc, over the step), the attacker's real
rate, the p50/p95/max latency of `status` requests on the victim's control socket (one every 100 ms,
from this process), the peer's status as both nodes see it (polled), who holds each VIP (`ip addr`).

Usage: .venv/bin/python bench/attack_bench.py [--kinds garbage,forged,large] [--seconds 8]
       [--start-rate 500] [--max-rate 256000] [--timings "keepalive 250ms ..."] [--pyz PATH --label L]
       [--out bench/results/attack-bench]
Needs root and iproute2. HAKIT_NETNS_PREFIX (default hakit-bench) names the namespaces.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import pathlib
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "netns"))

import netlab  # noqa: E402
from attacker import BROADCAST, VIP1, VIP2, Attacker, forged, garbage, start_attacked_pair  # noqa: E402

from hbagent import cli, wire  # noqa: E402
from hbagent.config import AuthKeys  # noqa: E402
from hbagent.wire import Message  # noqa: E402

DEFAULT_TIMINGS = "keepalive 250ms\nwarntime 1\ndeadtime 2\ninitdead 4"
CPU_BUDGET = 0.5  # of one core
CLK_TCK = os.sysconf("SC_CLK_TCK")


def large(count: int, seed: int = 8) -> list[bytes]:
    """~30 kB forged messages (2,000 fields), half classic, half netstring."""
    rng = random.Random(seed)
    packets = []
    for i in range(count):
        msg = Message.of(t="resource", src="web2", seq=format(10_000 + i, "x"), hg="7fffffff", ts="6b4f0000")
        for j in range(2000):
            msg.add(f"f{j}", "v" * 8)
        guess = AuthKeys(3, {3: ("md5", b"guess-%d" % rng.randrange(10**6))})
        if i % 2:
            msg.add("auth", wire.auth_field_value(msg, guess))
            packets.append(wire.classic_encode(msg))
        else:
            packets.append(wire.encode(msg, guess, classic_auth=False))
    return packets


KINDS = {
    "garbage": lambda: garbage(2000),
    "forged": lambda: forged(2000),
    "large": lambda: large(40),
}


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (all threads)


def loadavg() -> str:
    return " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])


class ControlProbe(threading.Thread):
    """`status` on the victim's control socket every 100 ms; latencies in seconds (None = failed)."""

    def __init__(self, path: pathlib.Path):
        super().__init__(daemon=True)
        self.path, self.latencies, self.stop_event = path, [], threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                cli.control_request(str(self.path.parent), {"cmd": "status"}, timeout=5)
                self.latencies.append(time.monotonic() - started)
            except (OSError, ValueError):
                self.latencies.append(None)
            self.stop_event.wait(max(0.0, 0.1 - (time.monotonic() - started)))


class PeerWatch(threading.Thread):
    """Both nodes' view of each other (control socket), and the VIP holders, every 200 ms."""

    def __init__(self, lab, web1, web2):
        super().__init__(daemon=True)
        self.lab, self.web1, self.web2 = lab, web1, web2
        self.samples, self.stop_event = [], threading.Event()

    @staticmethod
    def view(agent, node: str) -> str:
        try:
            nodes = cli.control_request(str(agent.state_dir), {"cmd": "status"}, timeout=5)["membership"]["nodes"]
            return next(n["status"] for n in nodes if n["name"] == node)
        except (OSError, ValueError, KeyError, StopIteration):
            return "no answer"

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.samples.append((self.view(self.web1, "web2"), self.view(self.web2, "web1"),
                                 tuple(self.lab.holders(VIP1)), tuple(self.lab.holders(VIP2))))  # fmt: skip
            self.stop_event.wait(0.2)

    def problems(self) -> list[str]:
        found = []
        for web1_sees, web2_sees, holders1, holders2 in self.samples:
            if web1_sees != "active":
                found.append(f"web1 sees web2 {web1_sees}")
            if web2_sees != "active":
                found.append(f"web2 sees web1 {web2_sees}")
            if holders1 != ("web1",) or holders2 != ("web2",):
                found.append(f"VIP holders {holders1} {holders2}")
        return sorted(set(found))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_lab(tmp: pathlib.Path, pyz: pathlib.Path, timings: str):
    lab = netlab.Lab(tmp, pyz, prefix=os.environ.get("HAKIT_NETNS_PREFIX", "hakit-bench"))
    web1, web2 = start_attacked_pair(lab, timings, netlab.wait_for, 60)
    return lab, web1, web2


def step(lab, web1, web2, attacker: Attacker, packets: list[bytes], rate: float, seconds: float) -> dict:
    pid = web1.process.pid
    probe, watch = ControlProbe(web1.state_dir / "hbagent.sock"), PeerWatch(lab, web1, web2)
    before_status = web1.status() or {}
    load_before = loadavg()
    proc = attacker.send(packets, rate, seconds, wait=False)
    attacker_pid = proc.pid
    time.sleep(min(1.0, seconds / 4))  # ramp: the attacker reaches its rate
    cpu0, attacker0, t0 = cpu_seconds(pid), cpu_seconds(attacker_pid), time.monotonic()
    probe.start()
    watch.start()
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        while proc.poll() is None and time.monotonic() - t0 < seconds - 1.5:
            time.sleep(0.1)
        cpu1, attacker1, t1 = cpu_seconds(pid), cpu_seconds(attacker_pid), time.monotonic()
    report = Attacker.finish(proc)
    time.sleep(1.0)  # after the flood: the peer must still be alive
    probe.stop_event.set()
    watch.stop_event.set()
    probe.join()
    watch.join()
    after_status = web1.status() or {}
    dropped_before = before_status.get("membership", {}).get("dropped", {})
    dropped_after = after_status.get("membership", {}).get("dropped", {})
    answered = [x for x in probe.latencies if x is not None]
    handled = sum(dropped_after.get(k, 0) - dropped_before.get(k, 0) for k in dropped_after)
    victim_cpu = (cpu1 - cpu0) / (t1 - t0)
    return {
        "rate_asked": rate,
        "rate_sent": report["rate"],
        "send_errors": report["errors"],
        "victim_cpu": round(victim_cpu, 3),
        "handled": handled,  # datagrams the victim read and refused (the kernel may have dropped others)
        "us_per_packet": round(victim_cpu * 1e6 / report["rate"], 1) if report["rate"] else None,
        "attacker_cpu": round((attacker1 - attacker0) / (t1 - t0), 3),
        "control_requests": len(probe.latencies),
        "control_failed": probe.latencies.count(None),
        "control_p50_ms": round(percentile(answered, 0.5) * 1000, 1) if answered else None,
        "control_p95_ms": round(percentile(answered, 0.95) * 1000, 1) if answered else None,
        "control_max_ms": round(max(answered) * 1000, 1) if answered else None,
        "dropped": {k: dropped_after.get(k, 0) - dropped_before.get(k, 0) for k in dropped_after},
        "input_errors": after_status.get("input_errors"),
        "problems": watch.problems(),
        "victim_alive": web1.running(),
        "load": f"{load_before} -> {loadavg()}",
    }


def run_kind(kind: str, args, tmp: pathlib.Path, pyz: pathlib.Path) -> list[dict]:
    lab, web1, web2 = start_lab(tmp / kind, pyz, args.timings)
    steps = []
    try:
        attacker = Attacker(lab.client_ns, lab.tmp, BROADCAST, python=netlab.PYTHON)
        packets = KINDS[kind]()
        rate = args.start_rate
        while rate <= args.max_rate:
            result = step(lab, web1, web2, attacker, packets, rate, args.seconds)
            steps.append(result)
            print(f"{kind:8} {rate:>8.0f}/s asked, {result['rate_sent']:>9.0f}/s sent: victim cpu "
                  f"{result['victim_cpu']:.2f}, control p95 {result['control_p95_ms']} ms, "
                  f"problems {result['problems'] or 'none'}", flush=True)  # fmt: skip
            if not result["victim_alive"] or result["problems"] or result["victim_cpu"] > CPU_BUDGET:
                break
            if result["rate_sent"] < 0.8 * rate:
                break  # the attacker cannot go faster on this machine
            rate *= 2
    finally:
        with contextlib.suppress(Exception):
            logs = {
                name: (agent.dir / "ha-log").read_text(errors="replace") for name, agent in lab.agents.items()
            }
            (tmp / f"{kind}-ha-log-web1.txt").write_text(logs["web1"][-20000:])
        lab.teardown()
    return steps


def verdict(steps: list[dict]) -> dict:
    """The highest rate absorbed within the budget with no problem, and why it stopped there."""
    good = [s for s in steps if s["victim_alive"] and not s["problems"] and s["victim_cpu"] <= CPU_BUDGET]
    best = max(good, key=lambda s: s["rate_sent"], default=None)
    last = steps[-1] if steps else None
    if last is None:
        why = "no step"
    elif not last["victim_alive"]:
        why = "victim died"
    elif last["problems"]:
        why = "; ".join(last["problems"][:3])
    elif last["victim_cpu"] > CPU_BUDGET:
        why = f"victim above {CPU_BUDGET:.0%} of a core at {last['rate_sent']:.0f}/s"
    else:
        why = f"attacker-limited: asked {last['rate_asked']:.0f}/s, sent {last['rate_sent']:.0f}/s"
    return {"best": best, "stopped": why}


def write_results(out: pathlib.Path, args, results: dict, label: str, started: str, load_start: str) -> None:
    data = {"label": label, "started": started, "args": vars(args), "load_start": load_start, "load_end": loadavg(),
            "results": results}  # fmt: skip
    out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()  # fmt: skip
    cpu = next((ln.split(":", 1)[1].strip() for ln in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "?")  # fmt: skip
    lines = [
        "# hbagent under attack: hostile traffic absorbed at <= 50 % of one core",
        "",
        f"- date: {started}",
        f"- command: `bench/attack_bench.py {' '.join(sys.argv[1:])}` (repo at {commit}); agent: {label}",
        f"- machine: {cpu}, {os.cpu_count()} CPUs, kernel {platform.release()}, Python {platform.python_version()}",
        f"- load average at the start: {load_start}, at the end: {loadavg()} (other agents share this machine)",
        f"- ha.cf timings: {args.timings.replace(chr(10), ', ')}; bcast eth0; a VIP per node",
        "",
        "Method: see the docstring of `bench/attack_bench.py`. The attacker and the agents share the machine's "
        'two cores: at the highest rates the attacker itself takes most of a core, so "attacker-limited" '
        "means the victim was never the bottleneck. The extrapolated rate assumes the cost per packet measured "
        "at the highest rate (victim CPU minus the lowest step's, divided by the rate) stays the same.",
        "",
        "## Summary",
        "",
        "| traffic | highest rate absorbed (sent/s) | victim CPU there | CPU per packet | control p95 / max there "
        "| stopped because | rate at 50 % of a core, extrapolated |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, steps in results.items():
        v = verdict(steps)
        best = v["best"]
        if best:
            idle = min(s["victim_cpu"] for s in steps)  # the first (lowest) rate: mostly the idle cost
            per_packet = (best["victim_cpu"] - idle) / best["rate_sent"] if best["rate_sent"] else 0
            guess = f"~{(CPU_BUDGET - idle) / per_packet:,.0f}/s" if per_packet > 0 else "—"
            lines.append(f"| {kind} | {best['rate_sent']:.0f} | {best['victim_cpu']:.0%} | {best['us_per_packet']} µs | "
                         f"{best['control_p95_ms']} / {best['control_max_ms']} ms | {v['stopped']} | {guess} |")  # fmt: skip
        else:
            lines.append(f"| {kind} | — | — | — | — | {v['stopped']} | — |")
    lines += ["", "## Every step", "",
              "| traffic | asked/s | sent/s | victim CPU | attacker CPU | control p50 / p95 / max ms | control failed "
              "| refused by the victim (unauthenticated / malformed) | peer and VIPs | load |",
              "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for kind, steps in results.items():
        for s in steps:
            dropped = f"{s['dropped'].get('unauthenticated', 0)} / {s['dropped'].get('malformed', 0)}"
            lines.append(
                f"| {kind} | {s['rate_asked']:.0f} | {s['rate_sent']:.0f} | {s['victim_cpu']:.0%} | "
                f"{s['attacker_cpu']:.0%} | {s['control_p50_ms']} / {s['control_p95_ms']} / {s['control_max_ms']} | "
                f"{s['control_failed']} of {s['control_requests']} | {dropped} | "
                f"{'; '.join(s['problems']) or 'active both ways, one holder each'} | {s['load']} |"
            )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="garbage,forged,large")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--start-rate", type=float, default=500.0)
    parser.add_argument("--max-rate", type=float, default=256_000.0)
    parser.add_argument("--timings", default=DEFAULT_TIMINGS)
    parser.add_argument("--pyz", help="an agent build to measure (default: build this checkout)")
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "attack-bench"))
    args = parser.parse_args(argv)
    reason = netlab.netns_unusable()
    if reason:
        print(f"attack_bench: {reason}", file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_start = loadavg()
    results = {}
    with tempfile.TemporaryDirectory(prefix="hakit-bench-") as tmpdir:
        tmp = pathlib.Path(tmpdir)
        pyz = pathlib.Path(args.pyz) if args.pyz else netlab.build_agent(tmp / "hbagent.pyz")
        for kind in args.kinds.split(","):
            results[kind] = run_kind(kind, args, tmp, pyz)
            write_results(pathlib.Path(args.out), args, results, args.label, started, load_start)
    for kind, steps in results.items():
        v = verdict(steps)
        rate = f"{v['best']['rate_sent']:.0f}/s" if v["best"] else "nothing"
        print(f"{kind}: {rate} within {CPU_BUDGET:.0%} of a core; stopped: {v['stopped']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
