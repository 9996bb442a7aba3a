"""Split-brain drills with two hbagent nodes: the figures behind issue 9's acceptance.

Lab (tests/netns/netlab.py): namespaces <prefix>-<run>-{br,web1,web2,client,gw} on a bridge, web1/web2
running the agent zipapp built from this checkout, haresources `web1 IPaddr::VIP/24/eth0 hakithttp`, a
client GETting http://VIP/ every 100 ms (new connection, 1 s timeout), VIP holders from
`ip -ts monitor address` in each node namespace. Timings: keepalive 500ms, deadtime 3 (the issue's lab).

Cases (each repeated --reps times):
* partition-heal: heartbeat UDP dropped both ways on web1 (nftables) for --cut seconds, then restored;
* uplink-loss: `ping <gw>` + `deadping 2`; web1's path to the ping node only is dropped;
* one-link-of-two: `bcast eth0` + `bcast eth1` (two bridges); eth1's heartbeat dropped for 2 x deadtime,
  restored, then eth0's heartbeat the same way (the service network stays up).

Per case: VIP holders over time (first repetition), dual-holder seconds, seconds without a holder, failed
requests, and the case's own figure (dual time after the heal; time until the group moved).

With --engines (podman, bench/podman_pair.py, image localhost/hakit-heartbeat:bookworm): the same
partition-heal with real Heartbeat 3.0.6 nodes, mixed pairs and agent pairs side by side, on a podman
network of its own (label io.hakit.lab=$HAKIT_PODMAN_LAB, default "bench"; subnet $HAKIT_PODMAN_SUBNET,
default 10.213.19.0/24), removed at the end.

    sudo .venv/bin/python bench/split_brain_bench.py [--reps 3] [--engines] [--out bench/results/split-brain.md]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "netns"))

import netlab  # noqa: E402
import podman_pair  # noqa: E402

ENGINE_PAIRS = {  # name: (web1, web2); web1 holds the VIP when the cut starts
    "heartbeat": ("heartbeat", "heartbeat"),
    "mixed (Heartbeat web1, hbagent web2)": ("heartbeat", "agent"),
    "mixed (hbagent web1, Heartbeat web2)": ("agent", "heartbeat"),
    "agent": ("agent", "agent"),
}

VIP = "10.213.30.50"
GROUP = f"IPaddr::{VIP}/24/eth0"
TIMINGS = "keepalive 500ms\nwarntime 1\ndeadtime 3\ninitdead 6"
KEEPALIVE_S, DEADTIME_S, DEADPING_S = 0.5, 3.0, 2.0


def pair(lab: netlab.Lab, media: str = "bcast eth0", extra: str = "", network2: bool = False,
         ping_host: bool = False):  # fmt: skip
    lab.build(["web1", "web2"], client=True)
    if network2:
        lab.add_network()
    if ping_host:
        lab.add_host("gw")  # before the agents start: a node that reaches no ping node takes nothing
    lab.configure(media, TIMINGS + ("\n" + extra if extra else ""), haresources=f"web1 {GROUP} hakithttp\n")
    web1, web2 = lab.agents["web1"], lab.agents["web2"]
    web1.install_service("It works! Principal")
    web2.install_service("It works! Secondaire")
    web1.start(resources=True)
    if not netlab.wait_for(lambda: web1.has_address(VIP), timeout=30):
        raise RuntimeError("web1 never took the VIP:\n" + web1.log()[-2000:])
    web2.start(resources=True)
    if not netlab.wait_for(lambda: web1.rscstatus() == "local" and web2.rscstatus() == "local", timeout=30):
        raise RuntimeError("the pair never settled")
    return web1, web2


def failed(probe, start: float, end: float) -> tuple[int, int]:
    window = netlab.between(probe.results(), start, end)
    return sum(1 for r in window if not r.ok), len(window)


def timeline(monitor: netlab.HolderMonitor, t0: float, end: float) -> str:
    parts = []
    for t, holders in monitor.timeline():
        if t <= end:
            parts.append(f"{max(t - t0, 0):+.2f}s {'+'.join(holders) or 'none'}")
    return "; ".join(parts)


def partition_heal(lab: netlab.Lab, cut_s: float) -> dict:
    web1, _web2 = pair(lab)
    monitor, probe = netlab.HolderMonitor(lab, VIP), lab.probe(VIP, limit=cut_s + 60)
    try:
        time.sleep(1)
        t0 = time.monotonic()
        web1.cut_heartbeat()
        time.sleep(cut_s)
        heal = time.monotonic()
        web1.restore_heartbeat()
        one = netlab.wait_for(lambda: lab.holders(VIP) == ["web1"], timeout=30)
        time.sleep(5)
        end = time.monotonic()
        during, after = monitor.seconds(t0, heal), monitor.seconds(heal, end)
        bad, total = failed(probe, t0, end)
        return {"dual": during["dual"] + after["dual"], "none": during["none"] + after["none"],
                "dual_after_heal": after["dual"], "none_after_heal": after["none"], "failed": bad, "requests": total,
                "one_holder": bool(one), "timeline": timeline(monitor, t0, end) + f" (heal at +{heal - t0:.2f}s)"}  # fmt: skip
    finally:
        probe.stop()
        monitor.close()


def uplink_loss(lab: netlab.Lab) -> dict:
    web1, _web2 = pair(lab, extra=f"ping {netlab.PING_ADDRESS}\ndeadping {DEADPING_S:g}", ping_host=True)
    if not netlab.wait_for(lambda: web1.cl_status("nodestatus", netlab.PING_ADDRESS).stdout == "ping\n", 10):
        raise RuntimeError("the ping node never answered")
    monitor, probe = netlab.HolderMonitor(lab, VIP), lab.probe(VIP, limit=90)
    try:
        time.sleep(2)
        t0 = time.monotonic()
        web1.cut_from(netlab.PING_ADDRESS)
        moved = netlab.wait_for(lambda: lab.holders(VIP) == ["web2"], timeout=30, interval=0.02)
        moved_s = time.monotonic() - t0 if moved else None
        time.sleep(3)
        end = time.monotonic()
        seconds = monitor.seconds(t0, end)
        bad, total = failed(probe, t0, end)
        web1.restore_to(netlab.PING_ADDRESS)
        back = netlab.wait_for(lambda: lab.holders(VIP) == ["web1"], timeout=30)
        return {"dual": seconds["dual"], "none": seconds["none"], "moved_s": moved_s, "failed": bad,
                "requests": total, "back": bool(back), "timeline": timeline(monitor, t0, end)}  # fmt: skip
    finally:
        probe.stop()
        monitor.close()


def one_link_of_two(lab: netlab.Lab) -> dict:
    web1, _web2 = pair(lab, media="bcast eth0\nbcast eth1", network2=True)
    monitor, probe = netlab.HolderMonitor(lab, VIP), lab.probe(VIP, limit=90)
    try:
        time.sleep(1)
        logged = {name: len(agent.log()) for name, agent in lab.agents.items()}
        t0 = time.monotonic()
        for dev in ("eth1", "eth0"):
            web1.cut_heartbeat(dev)
            time.sleep(2 * DEADTIME_S)
            web1.restore_heartbeat(dev)
            time.sleep(2)
        end = time.monotonic()
        seconds = monitor.seconds(t0, end)
        bad, total = failed(probe, t0, end)
        deaths = sum(agent.log()[logged[name] :].count("is dead") for name, agent in lab.agents.items())
        return {"dual": seconds["dual"], "none": seconds["none"], "failed": bad, "requests": total,
                "changes": len(monitor.timeline()) - 1, "deaths_logged": deaths, "timeline": timeline(monitor, t0, end)}  # fmt: skip
    finally:
        probe.stop()
        monitor.close()


def run(case, reps: int, prefix: str, pyz: pathlib.Path, tmp: pathlib.Path, **kw) -> list[dict]:
    results = []
    for i in range(reps):
        lab = netlab.Lab(tmp / f"{case.__name__}-{i}", pyz, prefix=prefix)
        try:
            results.append(case(lab, **kw))
        finally:
            lab.teardown()
        print(f"{case.__name__} #{i + 1}: {results[-1]}", flush=True)
    return results


def fmt(values, unit="s") -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    if unit == "s":
        return f"{statistics.median(values):.2f} s (max {max(values):.2f})"
    return f"{sum(values)} of {unit}"


def engines(pyz: pathlib.Path, reps: int, cut_s: float) -> dict[str, list[dict]]:
    label = os.environ.get("HAKIT_PODMAN_LAB", "bench")
    subnet = os.environ.get("HAKIT_PODMAN_SUBNET", "10.213.19.0/24")
    lab = podman_pair.PodmanPair(label, subnet, str(pyz))
    results: dict[str, list[dict]] = {}
    try:
        lab.up()
        lab.configure()
        for name, (one, two) in ENGINE_PAIRS.items():
            results[name] = []
            for i in range(reps):
                result = lab.partition_heal({"web1": one, "web2": two}, cut_s)
                results[name].append(result)
                print(f"{name} #{i + 1}: {result}", flush=True)
    finally:
        lab.remove()
    return results


def engine_report(results: dict[str, list[dict]], cut_s: float) -> list[str]:
    lines = [
        "",
        f"## Partition heal by engine (podman, real Heartbeat 3.0.6; {cut_s:g} s cut, 40 s watched after)",
        "",
        "Same cut (heartbeat UDP dropped both ways on web1), keepalive 500ms, deadtime 3 s, haresources "
        "`web1 IPaddr::VIP/24/eth0` (Debian's IPaddr for Heartbeat, hbagent's native one), VIP holders from "
        "`ip -ts monitor address` in each container. Medians (max).",
        "",
        "| pair | dual-holder s after heal | s without holder after heal | first single holder after heal "
        "| one holder for good after heal |",
        "|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        lines.append(f"| {name} | {fmt([r['dual_after_heal'] for r in runs])} | "
                     f"{fmt([r['none_after_heal'] for r in runs])} | {fmt([r['first_one_holder_after'] for r in runs])} "
                     f"| {fmt([r['one_holder_after'] for r in runs])} |")  # fmt: skip
    lines += [
        "",
        "Reading it: two 3.0.6 nodes both give everything up 2 s after the heal and restart (the first "
        "single holder is the one that let go last, then nobody for ~18 s). With one 3.0.6 node, hbagent "
        "follows 3.0.6's rule from the other side: it keeps what it holds, the real node gives up and "
        "restarts, so one node serves from then on; when the real node is the preferred one, its "
        "auto_failback moves the group back after its restart, a planned move whose gap is the "
        "release/start of the address (the seconds without holder here). Two agents settle in about one "
        "keepalive plus the release.",
    ]
    lines += ["", "Holders over time (first run, from the cut):", ""]
    lines += [f"* {name}: {runs[0]['timeline']}" for name, runs in results.items()]
    return lines


def report(results: dict, reps: int, cut_s: float) -> str:
    ph, up, two = results["partition-heal"], results["uplink-loss"], results["one-link-of-two"]
    lines = [
        "# Split brain: two hbagent nodes (issue 9)",
        "",
        f"`bench/split_brain_bench.py --reps {reps} --cut {cut_s:g}` on {os.uname().nodename} "
        f"({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}. Network namespaces on a bridge (netlab), "
        "keepalive 500ms, deadtime 3 s, deadping 2 s; client GET every 100 ms, 1 s timeout; VIP holders from "
        "`ip -ts monitor address`. Medians over the repetitions (max in brackets).",
        "",
        "| case | acceptance | measured | dual-holder s | s without holder | failed requests |",
        "|---|---|---|---|---|---|",
        f"| partition {cut_s:g} s, then heal | dual after heal ≤ 2 x keepalive + release; 0 s without holder after "
        f"heal | dual after heal {fmt([r['dual_after_heal'] for r in ph])}; without holder after heal "
        f"{fmt([r['none_after_heal'] for r in ph])} | {fmt([r['dual'] for r in ph])} | "
        f"{fmt([r['none'] for r in ph])} | {fmt([r['failed'] for r in ph], sum(r['requests'] for r in ph))} |",
        f"| uplink loss (web1 ↛ ping node) | moved within deadping + 1 s = {DEADPING_S + 1:g} s | moved after "
        f"{fmt([r['moved_s'] for r in up])} | {fmt([r['dual'] for r in up])} | {fmt([r['none'] for r in up])} | "
        f"{fmt([r['failed'] for r in up], sum(r['requests'] for r in up))} |",
        f"| one link of two lost (eth1, then eth0) | 0 failed requests | VIP moves: "
        f"{sum(r['changes'] for r in two)}, peers declared dead: {sum(r['deaths_logged'] for r in two)} | "
        f"{fmt([r['dual'] for r in two])} | {fmt([r['none'] for r in two])} | "
        f"{fmt([r['failed'] for r in two], sum(r['requests'] for r in two))} |",
        "",
        "Failed requests during a partition are the client's, whose ARP cache follows whichever node "
        "announced the VIP last while both hold it; dual-holder time during the cut is expected (no tiebreaker "
        "without ping nodes or fencing).",
        "",
        "## VIP holders over time (first repetition, from the cut)",
        "",
        f"* partition-heal: {ph[0]['timeline']}",
        f"* uplink-loss: {up[0]['timeline']}",
        f"* one-link-of-two: {two[0]['timeline']}",
        "",
        "## Every repetition",
        "",
        "| case | # | dual s | none s | failed/requests | figure |",
        "|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(ph, 1):
        lines.append(f"| partition-heal | {i} | {r['dual']:.2f} | {r['none']:.2f} | {r['failed']}/{r['requests']} | "
                     f"dual after heal {r['dual_after_heal']:.3f} s, none after heal {r['none_after_heal']:.3f} s |")  # fmt: skip
    for i, r in enumerate(up, 1):
        moved = "never" if r["moved_s"] is None else f"{r['moved_s']:.2f} s"
        lines.append(f"| uplink-loss | {i} | {r['dual']:.2f} | {r['none']:.2f} | {r['failed']}/{r['requests']} | "
                     f"moved after {moved}, back on web1 after the uplink returned: {r['back']} |")  # fmt: skip
    for i, r in enumerate(two, 1):
        lines.append(f"| one-link-of-two | {i} | {r['dual']:.2f} | {r['none']:.2f} | {r['failed']}/{r['requests']} | "
                     f"VIP moves {r['changes']}, deaths logged {r['deaths_logged']} |")  # fmt: skip
    if results.get("engines"):
        lines += engine_report(results["engines"], cut_s)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cut", type=float, default=10.0, help="partition length in seconds (default 10)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "split-brain.md"))
    parser.add_argument("--engines", action="store_true", help="also heartbeat/mixed/agent pairs in podman")
    parser.add_argument("--engine-reps", type=int, default=1)
    parser.add_argument("--only-engines", action="store_true", help="skip the netns cases")
    args = parser.parse_args()
    reason = netlab.netns_unusable()
    if reason:
        print(f"split_brain_bench: {reason}", file=sys.stderr)
        return 2
    prefix = os.environ.get("HAKIT_NETNS_PREFIX", "hakit-bench")
    with tempfile.TemporaryDirectory(prefix="hakit-splitbrain-") as name:
        tmp = pathlib.Path(name)
        pyz = netlab.build_agent(tmp / "hbagent.pyz")
        results: dict = {}
        if not args.only_engines:
            results["partition-heal"] = run(partition_heal, args.reps, prefix, pyz, tmp, cut_s=args.cut)
            results["uplink-loss"] = run(uplink_loss, args.reps, prefix, pyz, tmp)
            results["one-link-of-two"] = run(one_link_of_two, args.reps, prefix, pyz, tmp)
        if args.engines or args.only_engines:
            results["engines"] = engines(pyz, args.engine_reps, args.cut)
    if args.only_engines:
        text = "\n".join(engine_report(results["engines"], args.cut)) + "\n"
    else:
        text = report(results, args.reps, args.cut)
    pathlib.Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
