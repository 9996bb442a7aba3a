#!/usr/bin/env python3
"""Soak: a real Heartbeat 3.0.6 node (web1) and an hbagent node (web2) side by side for N minutes.

Reports the real node's view of the agent (cl_status nodestatus web2, sampled every 10 s), the agent's
view of the real node, the real node's complaints (authentication failures, lost packets, retransmission
requests), and packet rates: on the wire (tcpdump on web1) and, if the agent's `status --json` exposes
packet counters, as the agent counts them. Writes Markdown to bench/results/interop-soak.md.

Usage: bench/interop_soak.py [--minutes 10] [--interval 10] [--output PATH]   (root, podman; `make agent`)
"""

from __future__ import annotations

import argparse
import collections
import datetime
import platform
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "interop"))

import interop_harness as hb  # noqa: E402

LOG_PATTERNS = {
    "failed authentication": re.compile(r"failed authentication"),
    "authtoken": re.compile(r"authtoken"),
    "lost packet": re.compile(r"lost packet", re.IGNORECASE),
    "rexmit": re.compile(r"rexmit", re.IGNORECASE),
    "late heartbeat": re.compile(r"Late heartbeat"),
    "is dead": re.compile(r"is dead"),
    "hist queue (peer not acking)": re.compile(r"hist queue|clients are now paused"),
}
COUNTER_KEY = re.compile(r"(packet|pkt|datagram|msg|message).*(sent|recv|received|rx|tx|in|out)"
                         r"|(sent|recv|received|rx|tx).*(packet|pkt|datagram|msg|message)", re.IGNORECASE)


def packet_counters(status: dict | None, prefix: str = "") -> dict[str, float]:
    """Numeric fields of the agent's status JSON whose names say they count packets/messages, plus its
    own sequence number (membership.seq: sequenced messages sent since start)."""
    found: dict[str, float] = {}
    if not isinstance(status, dict):
        return found
    if not prefix and isinstance(status.get("membership"), dict) and isinstance(status["membership"].get("seq"), int):
        found["membership.seq (sequenced messages sent)"] = float(status["membership"]["seq"])
    for key, value in status.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            found.update(packet_counters(value, path + "."))
        elif isinstance(value, int | float) and not isinstance(value, bool) and COUNTER_KEY.search(str(key)):
            found[path] = float(value)
    return found


def soak(minutes: float, interval: float) -> dict:
    reason = hb.podman_usable() or hb.agent_unavailable()
    if reason:
        raise SystemExit(f"cannot soak: {reason}")
    hb.interrupt_on_sigterm()
    lab = hb.Lab()
    result: dict = {"samples": [], "minutes": minutes, "interval": interval}
    try:
        lab.up()
        web1, web2 = lab["web1"], lab["web2"]
        key = hb.new_authkey()
        for node in (web1, web2):
            node.configure(key=key, groups=[("web1", f"IPaddr::{hb.VIP}/24/eth0")])
        web2.install_agent()
        lab.quiesce()
        with hb.Capture(web1) as capture:
            web1.start_heartbeat()
            web2.start_agent()
            t_start = time.monotonic()
            hb.wait_for("web1 to see web2 active",
                        lambda: web1.cl_status("nodestatus", "web2") == (0, "active"), timeout=120)
            result["join_s"] = time.monotonic() - t_start
            status_before = web2.agent_status_json()
            t0 = time.monotonic()
            for k in range(int(minutes * 60 // interval) + 1):
                # Samples on a fixed grid, so that the time the queries take does not stretch it.
                time.sleep(max(0.0, t0 + k * interval - time.monotonic()))
                _, real_view = web1.cl_status("nodestatus", "web2")
                _, agent_view = web2.agent_cl_status("nodestatus", "web1")
                result["samples"].append((time.monotonic() - t0, real_view, agent_view))
            duration = time.monotonic() - t0
            status_after = web2.agent_status_json()
            packets = capture.packets()  # the whole run, join included
        result["duration_s"] = duration
        result["real_log"] = web1.ha_log()
        result["agent_running"] = web2.agent_running()
        result["wire"] = wire_stats(packets)
        before, after = packet_counters(status_before), packet_counters(status_after)
        result["agent_counters"] = {k: (after[k] - before[k]) / duration for k in after if k in before}
    finally:
        lab.down()
    return result


def wire_stats(packets: list[hb.Packet]) -> dict:
    if len(packets) < 2:
        return {"span_s": 0.0, "by_sender_type": {}, "total": len(packets)}
    span = packets[-1].time - packets[0].time
    by = collections.Counter((p.get("src") or "?", p.get("t") or "?") for p in packets)
    return {"span_s": span, "by_sender_type": dict(by), "total": len(packets)}


def render(result: dict) -> str:
    samples = result["samples"]
    real_views = collections.Counter(s[1] for s in samples)
    agent_views = collections.Counter(s[2] for s in samples)
    all_active = real_views.keys() == {"active"}
    log = result["real_log"]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Interop soak: real Heartbeat 3.0.6 (web1) + hbagent (web2)",
        "",
        f"Run {now} on {platform.node()} ({platform.machine()}, Python {platform.python_version()}); "
        f"`bench/interop_soak.py --minutes {result['minutes']:g}`. keepalive {hb.KEEPALIVE_S} s, "
        f"deadtime {hb.DEADTIME_S} s, bcast eth0, md5 auth, podman network {hb.NETWORK}.",
        "",
        "## Membership",
        "",
        "| what | value |",
        "|---|---|",
        f"| soak duration | {result['duration_s']:.0f} s ({len(samples)} samples, every {result['interval']:g} s) |",
        f"| time until web1 saw web2 active | {result['join_s']:.1f} s |",
        f"| web1 `cl_status nodestatus web2` | {dict(real_views)} — **{'all active' if all_active else 'NOT all active'}** |",
        f"| web2 `hbagent cl-status nodestatus web1` | {dict(agent_views)} |",
        f"| agent still running at the end | {result['agent_running']} |",
        "",
        "## Real node's log (/var/log/ha-log on web1, whole run)",
        "",
        "| pattern | lines |",
        "|---|---|",
    ]
    for name, pattern in LOG_PATTERNS.items():
        lines.append(f"| {name} | {len(hb.count_matches(pattern, log))} |")
    wire = result["wire"]
    lines += ["", "## Packets", ""]
    if wire["span_s"] > 0:
        lines += [f"Wire (tcpdump on web1, UDP 694, {wire['total']} datagrams over {wire['span_s']:.0f} s, "
                  f"join included): {wire['total'] / wire['span_s']:.2f} packets/s.", "",
                  "| sender | t= | packets | per second |", "|---|---|---|---|"]
        for (src, kind), count in sorted(wire["by_sender_type"].items()):
            lines.append(f"| {src} | {kind} | {count} | {count / wire['span_s']:.2f} |")
    else:
        lines.append("Wire capture: no packets captured.")
    lines.append("")
    if result["agent_counters"]:
        lines += ["Agent's own counters (`hbagent status --json`, delta over the soak, join excluded):", "",
                  "| counter | per second |", "|---|---|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in sorted(result["agent_counters"].items())]
    else:
        lines.append("Agent's own counters: `hbagent status --json` exposes no packet counters (column skipped).")
    trouble = [line for line in log.splitlines()
               if any(p.search(line) for n, p in LOG_PATTERNS.items() if n != "is dead")]
    if trouble:
        lines += ["", "## First complaints in the real node's log", "", "```", *trouble[:20], "```"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between nodestatus samples")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "interop-soak.md")
    args = parser.parse_args()
    report = render(soak(args.minutes, args.interval))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
