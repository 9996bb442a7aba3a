# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The four-case drill's evidence: parse what the nodes and the client recorded, judge each case, render it.

Stdlib only and free of Ansible imports: the filter plugin ``hakit.heartbeat.drill_*`` wraps it and the
unit tests load it standalone. Raw evidence comes from ``roles/lab_drill/files/drill_probe.py``:
``ip -o -4 addr show`` text, ``cl_status nodestatus`` outputs and JSON-lines probe samples.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# cl_status nodestatus answers with one of these words (Heartbeat 3.0.6, hb_api.h)
CL_STATUS_WORDS = ("active", "up", "dead", "init", "ping")

_INET_RE = re.compile(r"^\d+:\s+(?P<ifname>\S+)\s+inet\s+(?P<address>[\d.]+)/(?P<prefix>\d+)(?P<rest>.*)$")


@dataclass(frozen=True)
class InetAddress:
    ifname: str
    address: str
    prefix: int
    label: str  # "eth0:0" for an IPaddr alias; the interface name otherwise


def parse_inet_addresses(text: str) -> list[InetAddress]:
    """IPv4 addresses of ``ip -o -4 addr show`` (also accepts ``ip -o addr``; inet6 lines are skipped)."""
    found = []
    for raw in text.splitlines():
        # `ip -o` folds the valid_lft continuation into the line after a literal backslash
        line = raw.split("\\", 1)[0].rstrip()
        match = _INET_RE.match(line)
        if not match:
            continue
        words = match.group("rest").split()
        # `ip` ends the address part with its label: "... scope global secondary eth0:0"
        label = words[-1] if words else ""
        found.append(
            InetAddress(
                ifname=match.group("ifname"),
                address=match.group("address"),
                prefix=int(match.group("prefix")),
                label=label or match.group("ifname"),
            )
        )
    return found


def holds_address(ip_addr_text: str, address: str) -> bool:
    return any(inet.address == address for inet in parse_inet_addresses(ip_addr_text))


def parse_cl_status(out: str, rc: int | None = None, err: str = "") -> str:
    """The status word of ``cl_status nodestatus <node>``; 'error: …' when the daemon gave none.

    rc is 0 for a live node and 1 for a dead one, so the word, not rc, is the answer.
    """
    word = out.strip().lower()
    if word in CL_STATUS_WORDS:
        return word
    reason = (err or out).strip().splitlines()
    detail = reason[0] if reason else "no output"
    return f"error: {detail}" + (f" (rc {rc})" if rc not in (None, 0) else "")


def node_view(info: dict, vip: str) -> dict:
    """What one node says of its cluster, from its heartbeat_info result (any engine): the name it goes
    by, whether it holds the VIP (a resource group's address present on the node), and the status word
    of every node ('error: …' where the engine gave none)."""
    running = bool(info.get("running"))
    status = {}
    for node, entry in (info.get("nodes") or {}).items():
        word = (entry or {}).get("status")
        status[node] = (
            word if word in CL_STATUS_WORDS else f"error: {'no status' if running else 'the daemon does not answer'}"
        )
    held = any(vip in (group.get("addresses") or []) and group.get("held_here") for group in info.get("groups") or [])
    return {"uname": info.get("local_node", ""), "vip": held, "status": status, "engine": info.get("engine")}


def parse_jsonl(text: str) -> list[dict]:
    """JSON lines; a torn last line (writer killed with its container) is dropped, other bad lines raise."""
    rows = []
    lines = [line for line in text.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if index == len(lines) - 1:
                break
            raise ValueError(f"probe log line {index + 1}: {exc.msg}") from exc
    return rows


# -- the HTTP probe ---------------------------------------------------------------------------------


@dataclass
class Outage:
    start: float  # start of the first failed request
    end: float  # start of the next successful request (or end of the last failed one)
    failed: int
    recovered: bool

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class ProbeSummary:
    requests: int = 0
    failed: int = 0
    outages: list[Outage] = field(default_factory=list)
    pages: dict[str, int] = field(default_factory=dict)
    first: float | None = None
    last: float | None = None

    @property
    def outage_seconds(self) -> float:
        return round(sum(outage.seconds for outage in self.outages), 2)

    @property
    def longest_outage(self) -> float:
        return round(max((outage.seconds for outage in self.outages), default=0.0), 2)


def summarize_probe(samples: list[dict]) -> ProbeSummary:
    """Failed requests and outage windows: a window runs from the first failure to the next success."""
    summary = ProbeSummary()
    current: Outage | None = None
    for sample in sorted(samples, key=lambda row: row["t"]):
        start = float(sample["t"])
        end = start + float(sample.get("dt", 0.0))
        summary.requests += 1
        summary.first = start if summary.first is None else summary.first
        summary.last = end
        if sample.get("ok"):
            body = page_text(sample.get("body", ""))
            summary.pages[body] = summary.pages.get(body, 0) + 1
            if current is not None:
                current.end, current.recovered = start, True
                summary.outages.append(current)
                current = None
            continue
        summary.failed += 1
        if current is None:
            current = Outage(start=start, end=end, failed=0, recovered=False)
        current.failed += 1
        current.end = end
    if current is not None:
        summary.outages.append(current)
    return summary


class _PageText(HTMLParser):
    """Collects the <title>, the first <h1> and all text of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: dict[str, list[str]] = {"title": [], "h1": [], "all": []}
        self._open: list[str] = []
        self._h1_done = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("title", "h1") and not (tag == "h1" and self._h1_done):
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            self._open.remove(tag)
            self._h1_done = self._h1_done or tag == "h1"

    def handle_data(self, data: str) -> None:
        for tag in self._open:
            self.parts[tag].append(data)
        self.parts["all"].append(data)


def page_text(body: str) -> str:
    """What a person reads on the page: the first <h1>, else the <title>, else all text; whitespace folded."""
    body = str(body)
    if "<" not in body:
        return " ".join(body.split())
    parser = _PageText()
    parser.feed(body)
    for key in ("h1", "title", "all"):
        text = " ".join(" ".join(parser.parts[key]).split())
        if text:
            return text
    return ""


def first_page_after(samples: list[dict], wanted: str, after: float) -> float | None:
    """Start time of the first successful request at or after `after` whose page contains `wanted`."""
    for sample in sorted(samples, key=lambda row: row["t"]):
        if sample["t"] >= after and sample.get("ok") and wanted in page_text(sample.get("body", "")):
            return float(sample["t"])
    return None


# -- VIP watchers on the nodes -------------------------------------------------------------------


def vip_timeline(samples: list[dict], vip: str) -> list[tuple[float, bool]]:
    """(time, holds VIP) per sample; the watcher writes `ip` text only when it changed since its last line."""
    timeline = []
    held = False
    for sample in sorted(samples, key=lambda row: row["t"]):
        if "ip" in sample:
            held = holds_address(sample["ip"], vip)
        timeline.append((float(sample["t"]), held))
    return timeline


def max_simultaneous_holders(watch: dict[str, list[dict]], vip: str) -> tuple[int, list[float]]:
    """Most nodes seen holding the VIP at one instant, and the instants where more than one held it.

    A node counts as holding at time t only when both its sample before t and its sample after t say so:
    a handover between two samples is never mistaken for an overlap.
    """
    timelines = {node: vip_timeline(samples, vip) for node, samples in watch.items()}
    instants = sorted({t for timeline in timelines.values() for t, _held in timeline})
    most, overlaps = 0, []
    for instant in instants:
        holders = sum(1 for timeline in timelines.values() if _surely_held(timeline, instant))
        most = max(most, holders)
        if holders > 1:
            overlaps.append(instant)
    return most, overlaps


def _surely_held(timeline: list[tuple[float, bool]], instant: float) -> bool:
    before = [held for t, held in timeline if t <= instant]
    after = [held for t, held in timeline if t >= instant]
    return bool(before and after and before[-1] and after[0])


def holder_spans(watch: dict[str, list[dict]], vip: str) -> list[tuple[float, float, tuple[str, ...]]]:
    """Who held the VIP over time: (from, to, holders) between consecutive sample instants of all watchers,
    merged where the holders stay the same. A node holds at an instant when its samples just before and
    after say so, as in max_simultaneous_holders; the resolution is the watchers' interval."""
    timelines = {node: vip_timeline(samples, vip) for node, samples in watch.items() if samples}
    if not timelines:
        return []
    # only while every watcher records: past one's end, nobody can tell what that node held
    first = max(timeline[0][0] for timeline in timelines.values())
    last = min(timeline[-1][0] for timeline in timelines.values())
    instants = sorted({t for timeline in timelines.values() for t, _held in timeline if first <= t <= last})
    spans: list[tuple[float, float, tuple[str, ...]]] = []
    for start, end in itertools.pairwise(instants):
        holders = tuple(sorted(node for node, timeline in timelines.items() if _surely_held(timeline, start)))
        if spans and spans[-1][2] == holders and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], end, holders)
        else:
            spans.append((start, end, holders))
    return spans


def seconds_with(spans, since: float, count) -> float:
    """Seconds after `since` during which the number of holders satisfied `count` (a predicate)."""
    return round(sum(max(0.0, end - max(start, since)) for start, end, holders in spans
                     if end > since and count(len(holders))), 2)  # fmt: skip


def first_held_by(spans, since: float, holder: str) -> float | None:
    """First instant at or after `since` from which `holder` alone held the VIP."""
    for start, end, holders in spans:
        if end > since and holders == (holder,):
            return max(start, since)
    return None


def describe_spans(spans, origin: float) -> str:
    """'web1 0.0-12.2 s, web1+web2 12.2-25.3 s, none 25.3-25.5 s', times from `origin`."""
    parts = [f"{'+'.join(holders) or 'none'} {start - origin:.1f}-{end - origin:.1f} s" for start, end, holders in spans]
    return ", ".join(parts)


# -- judging a case --------------------------------------------------------------------------------


def evaluate_case(case: dict) -> dict:
    """Turn one case's raw evidence and expectations into measurements and pass/fail checks.

    case: {id, title, vip, nodes, running: [..], expect: {holder, status: {observer: {node: word}}, page,
           max_failed, max_recovery_s}, snapshots: {node: heartbeat_info result (dict or JSON)}, page: {status, content},
           probe: jsonl text, watch: {node: jsonl text}, t_action: float|None,
           action/heal: {name, rc: int|None (None: nothing was run), output}, t_heal: float|None}
    """
    expect = case.get("expect", {})
    vip = case["vip"]
    nodes = list(case["nodes"])
    running = list(case.get("running", nodes))
    record = {key: case.get(key) for key in ("id", "title", "vip", "t_action")}
    record.update(nodes=nodes, running=running, checks=[])
    checks = record["checks"]

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"name": name, "ok": bool(ok), "detail": detail})

    for step in ("action", "heal"):
        done = case.get(step) or {}
        if done.get("rc") not in (None, 0):
            tail = " | ".join(str(done.get("output", "")).splitlines()[-3:])
            check(step, False, f"{done.get('name')} exited with {done['rc']}: {tail}")

    # each running node's own view (heartbeat_info): whether it holds the VIP, the status of every node
    views, holders = {}, []
    for node in running:
        snap = _snapshot(case.get("snapshots", {}).get(node))
        if snap is None or "nodes" not in snap:
            views[node] = {"uname": "", "vip": False, "status": {}}
            reason = (snap or {}).get("msg") or "container down or module failed"
            check(f"snapshot of {node}", False, f"{node} gave no view of its cluster ({reason})")
            continue
        views[node] = node_view(snap, vip)
        if views[node]["vip"]:
            holders.append(node)
        if views[node]["uname"] != node:
            check(f"uname -n on {node}", False, f"node {node} calls itself {views[node]['uname']!r}")
    record["views"] = views
    record["holders"] = holders
    if "holder" in expect:
        check(
            "exactly one VIP holder",
            holders == [expect["holder"]],
            f"VIP {vip} on {', '.join(holders) or 'no node'}; expected {expect['holder']} only",
        )
    for observer, wanted in expect.get("status", {}).items():
        seen = views.get(observer, {}).get("status", {})
        wrong = {peer: seen.get(peer, "not asked") for peer, word in wanted.items() if seen.get(peer) != word}
        shown = ", ".join(f"{peer}={word}" for peer, word in wanted.items())
        check(
            f"status from {observer}",
            not wrong,
            f"{observer} sees {', '.join(f'{p}={w}' for p, w in seen.items())}; expected {shown}",
        )

    page = case.get("page") or {}
    record["page"] = (
        page_text(page.get("content", "")) if page.get("status") == 200 else f"HTTP {page.get('status')}"
    )
    if expect.get("page"):
        check("page served on the VIP", expect["page"] in record["page"], f"client got {record['page']!r}")

    samples = parse_jsonl(case.get("probe") or "")
    summary = summarize_probe(samples)
    record["probe"] = {
        "requests": summary.requests,
        "failed": summary.failed,
        "outage_s": summary.outage_seconds,
        "windows": len(summary.outages),
        "longest_s": summary.longest_outage,
        "pages": summary.pages,
        "span_s": round((summary.last or 0) - (summary.first or 0), 1),
    }
    if summary.requests == 0:
        check("probe ran", False, "the client's probe recorded no request")
    if expect.get("max_failed") is not None:
        check(
            "failed requests",
            summary.failed <= expect["max_failed"],
            f"{summary.failed} of {summary.requests} failed; allowed {expect['max_failed']}",
        )
    limit = expect.get("max_recovery_s")
    if expect.get("measure_recovery") or limit is not None:
        # recovery: from the action to the first request answered with the expected page
        served = first_page_after(samples, expect.get("page", ""), float(case.get("t_action") or 0))
        recovery = None if served is None else round(served - float(case["t_action"]), 2)
        record["probe"]["recovery_s"] = recovery
        if limit is not None:
            check(
                "recovery time",
                recovery is not None and recovery <= float(limit),
                f"{expect.get('page')!r} served {recovery} s after the action; limit {limit} s"
                if recovery is not None
                else f"{expect.get('page')!r} never served during the probe",
            )

    watch = {node: parse_jsonl(text or "") for node, text in (case.get("watch") or {}).items()}
    if watch:
        most, overlaps = max_simultaneous_holders(watch, vip)
        spans = holder_spans(watch, vip)
        t_action = float(case.get("t_action") or (spans[0][0] if spans else 0.0))
        record["vip_watch"] = {
            "nodes": sorted(watch),
            "samples": sum(len(rows) for rows in watch.values()),
            "max_holders": most,
            "dual_s": seconds_with(spans, t_action, lambda n: n > 1),
            "over_time": describe_spans(spans, t_action),
        }
        if expect.get("allow_dual"):  # a partition: two holders are expected until the heal
            record["vip_watch"]["note"] = "two holders allowed while the heartbeat links are cut"
        else:
            check(
                "never two VIP holders",
                most <= 1,
                f"max {most} holder(s) over {record['vip_watch']['samples']} samples"
                + (f"; overlap at {len(overlaps)} instants" if overlaps else ""),
            )
        _judge_heal_and_move(case, expect, spans, t_action, record["vip_watch"], check)
    record["ok"] = all(item["ok"] for item in checks)
    return record


def _limit(expect: dict, key: str) -> float | None:
    """A limit of the case; absent, null or empty (a limit that does not apply here) means none."""
    value = expect.get(key)
    if value is None or str(value).strip() in ("", "None", "none"):
        return None
    return float(value)


def _judge_heal_and_move(case, expect, spans, t_action, watch, check) -> None:
    """After a heal (t_heal): seconds with two holders and with none; after the action: how long the
    expected holder took to hold the VIP alone. Limits are checked only where the case sets them."""
    t_heal = case.get("t_heal")
    if t_heal not in (None, "", "None"):
        watch["dual_after_heal_s"] = seconds_with(spans, float(t_heal), lambda n: n > 1)
        watch["none_after_heal_s"] = seconds_with(spans, float(t_heal), lambda n: n == 0)
        for key, what in (("dual_after_heal_s", "two holders"), ("none_after_heal_s", "no holder")):
            limit = _limit(expect, f"max_{key}")
            if limit is not None:
                check(f"{what} after the heal", watch[key] <= limit,
                      f"{watch[key]} s with {what} after the heal; allowed {limit} s")  # fmt: skip
    if "max_move_s" in expect and expect.get("holder"):  # measured always, judged where a limit applies
        move_limit = _limit(expect, "max_move_s")
        moved = first_held_by(spans, t_action, expect["holder"])
        watch["move_s"] = None if moved is None else round(moved - t_action, 2)
        if move_limit is None:
            return
        check("move time", moved is not None and watch["move_s"] <= move_limit,
              f"{expect['holder']} held the VIP alone {watch['move_s']} s after the action; limit "
              f"{expect['max_move_s']} s" if moved is not None else f"{expect['holder']} never held the VIP alone")  # fmt: skip


def _snapshot(raw) -> dict | None:
    if isinstance(raw, dict):
        return raw
    try:
        snap = json.loads(raw or "")
    except (TypeError, ValueError):
        return None
    return snap if isinstance(snap, dict) else None


# -- rendering -------------------------------------------------------------------------------------


def _fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render_case(record: dict) -> str:
    nodes = record["nodes"]
    lines = [f"### Case {record['id']}: {record['title']}", ""]
    lines.append(
        "| node | running | VIP " + record["vip"] + " | " + " | ".join(f"status of {n}" for n in nodes) + " |"
    )
    lines.append("|---" * (3 + len(nodes)) + "|")
    for node in nodes:
        view = record["views"].get(node)
        if view is None:
            lines.append(f"| {node} | no | - | " + " | ".join("-" for _node in nodes) + " |")
            continue
        cells = [view["status"].get(peer, "-") for peer in nodes]
        lines.append(f"| {node} | yes | {'yes' if view['vip'] else 'no'} | " + " | ".join(cells) + " |")
    probe = record["probe"]
    lines += [
        "",
        f"- client page on http://{record['vip']}/: {record['page']!r}",
        f"- probe (every 100 ms): {probe['requests']} requests over {probe['span_s']} s, {probe['failed']} failed, "
        f"outage {_fmt_s(probe['outage_s'])} s in {probe['windows']} window(s)"
        + (
            f", recovery {_fmt_s(probe.get('recovery_s'))} s after the action"
            if "recovery_s" in probe
            else ""
        ),
    ]
    if "vip_watch" in record:
        watch = record["vip_watch"]
        lines.append(
            f"- VIP sampled on {', '.join(watch['nodes'])}: {watch['samples']} samples, max {watch['max_holders']} holder(s), "
            f"{_fmt_s(watch.get('dual_s'))} s with two"
            + (f" ({watch['note']})" if watch.get("note") else "")
        )
        if watch.get("over_time"):
            lines.append(f"- holders over time (from the action): {watch['over_time']}")
        extra = [f"{label} {_fmt_s(watch[key])} s" for key, label in (
            ("dual_after_heal_s", "two holders after the heal"), ("none_after_heal_s", "no holder after the heal"),
            ("move_s", "moved after")) if key in watch]  # fmt: skip
        if extra:
            lines.append("- " + ", ".join(extra))
    for item in record["checks"]:
        lines.append(f"- [{'x' if item['ok'] else ' '}] {item['name']}: {item['detail']}")
    lines.append(f"- **{'PASS' if record['ok'] else 'FAIL'}**")
    return "\n".join(lines) + "\n"


def render_report(records: list[dict], title: str = "Heartbeat four-case drill") -> str:
    lines = [f"# {title}", ""]
    lines.append(
        "| case | what | VIP holder | page | requests | failed | outage s | recovery s | two holders s | result |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for record in records:
        probe = record["probe"]
        lines.append(
            f"| {record['id']} | {record['title']} | {', '.join(record['holders']) or 'none'} | {record['page']} | "
            f"{probe['requests']} | {probe['failed']} | {_fmt_s(probe['outage_s'])} | {_fmt_s(probe.get('recovery_s'))} | "
            f"{_fmt_s(record.get('vip_watch', {}).get('dual_s'))} | {'PASS' if record['ok'] else 'FAIL'} |"
        )
    lines.append("")
    return "\n".join(lines) + "\n" + "\n".join(render_case(record) for record in records)


def failed_checks(records: list[dict]) -> list[str]:
    return [
        f"case {record['id']}: {item['name']}: {item['detail']}"
        for record in records
        for item in record["checks"]
        if not item["ok"]
    ]


# -- content sync cases (hakit.heartbeat.content_sync) -----------------------------------------------
# Raw evidence from drill_probe.py's edit/file/read modes and an http probe on the content page; pages
# say "hakit-drill RUN vN" (N: the version, increasing over the drill). Timestamps of the writer on one
# node and of the watcher on the other come from the same host clock (podman containers share it).

_VERSION_RE = re.compile(r"hakit-drill (\S+) v(\d+)")


def content_version(text: str, run: str) -> int | None:
    """N of "hakit-drill RUN vN" in a page of this run; None for any other page (or none)."""
    for match in _VERSION_RE.finditer(str(text or "")):
        if match.group(1) == run:
            return int(match.group(2))
    return None


def replication_lags(edits: list[dict], seen: list[dict]) -> list[float | None]:
    """Per edit {seq, t}: seconds until the watched copy held that version or a later one, None if never.

    A later version counts: an edit overwritten before a sync ran reached the other node inside the newer
    one (what a user of the other node then reads includes it).
    """
    observed = sorted(
        ((float(row["t"]), row["seq"]) for row in seen if isinstance(row.get("seq"), int)),
        key=lambda item: item[0],
    )
    lags: list[float | None] = []
    for edit in edits:
        seq, written = int(edit["seq"]), float(edit["t"])
        arrival = next((t for t, version in observed if version >= seq and t >= written - 0.05), None)
        lags.append(None if arrival is None else round(max(0.0, arrival - written), 3))
    return lags


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def lag_summary(lags: list[float | None]) -> dict:
    """count, reached, and min/median/p90/max/mean of the lags that arrived (None when none did)."""
    arrived = [lag for lag in lags if lag is not None]
    summary: dict = {"count": len(lags), "reached": len(arrived)}
    for key, value in (
        ("min", min(arrived) if arrived else None),
        ("median", _percentile(arrived, 0.5) if arrived else None),
        ("p90", _percentile(arrived, 0.9) if arrived else None),
        ("max", max(arrived) if arrived else None),
        ("mean", sum(arrived) / len(arrived) if arrived else None),
    ):
        summary[key] = None if value is None else round(value, 3)
    return summary


def served_versions(samples: list[dict], run: str) -> list[tuple[float, int | None]]:
    """(time, version) of every answered request of an http probe on the content page, in time order."""
    return [
        (float(row["t"]), content_version(row.get("body", ""), run))
        for row in sorted(samples, key=lambda row: row["t"])
        if row.get("ok")
    ]


def _json(raw) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        data = json.loads(raw or "")
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _rows(value) -> list[dict]:
    """JSON lines as text, or a list of lines or of rows already parsed."""
    if isinstance(value, (list, tuple)):
        return [row if isinstance(row, dict) else json.loads(row) for row in value if row not in ("", None)]
    return parse_jsonl(value or "")


def _fmt_lag(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def evaluate_content(record: dict, content: dict) -> dict:
    """Add the content checks of one case to its record (from evaluate_case) and recompute ok.

    content: {kind: lag|edit_kill|edit_start|edit_switch|start, run, max_lag, writer, reader, taker,
      edits: jsonl or a list of lines ({seq, t} per edit), t_kill, prev_seq (what every node had before the case),
      watch: {node: jsonl of a file watcher}, files: {node: read result}, probe: jsonl of the content page's
      http probe, final: get result of the content page on the VIP, gone: get result of a deleted page,
      last_start: {node: last-start.json}, backups: {node: read result with holding}, lost_seq, lag: summary}
    Adds record["content"] = {kind, served, edit_seq, lost, lags?, summary?}.
    """
    checks = record.setdefault("checks", [])
    run, kind = str(content["run"]), content["kind"]
    max_lag = float(content.get("max_lag") or 0)

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"name": name, "ok": bool(ok), "detail": detail})

    edits = _rows(content.get("edits"))
    final = _json(content.get("final"))
    served = content_version(final.get("body", ""), run) if final.get("ok") else None
    versions = served_versions(parse_jsonl(content.get("probe") or ""), run)
    files = {node: _json(raw) for node, raw in (content.get("files") or {}).items()}
    starts = {node: _json(raw) for node, raw in (content.get("last_start") or {}).items()}
    prev = content.get("prev_seq")
    edit_seq = edits[-1]["seq"] if edits else None
    summary: dict = {"kind": kind, "served": served, "edit_seq": edit_seq, "lost": None}
    record["content"] = summary

    def served_check(expected: int | None, why: str) -> None:
        check(
            "content served on the VIP",
            served is not None and served == expected,
            f"the page on the VIP is v{served}; expected v{expected} ({why})",
        )

    def never_older(floor: int | None, after: float | None = None) -> None:
        if floor is None:
            return
        older = [(t, v) for t, v in versions if (after is None or t >= after) and (v is None or v < floor)]
        check(
            "never an older copy served",
            not older,
            f"{len(versions)} answers on the content page, {len(older)} older than v{floor}"
            + (f" (first: v{older[0][1]})" if older else ""),
        )

    def taker_check(node: str, wanted: str) -> None:
        start = starts.get(node, {})
        check(
            f"{node} took over as the rule says",
            start.get("action") == wanted,
            f"{node}'s content-sync start: {start.get('action', 'no record')} ({start.get('message', '')}); expected {wanted}",
        )

    if kind == "lag":
        seen = parse_jsonl((content.get("watch") or {}).get(content["reader"], ""))
        lags = replication_lags(edits, seen)
        stats = lag_summary(lags)
        summary.update(lags=lags, summary=stats)
        check(
            f"every edit reached {content['reader']}",
            bool(edits) and stats["reached"] == len(edits),
            f"{stats['reached']} of {len(edits)} edits on {content['writer']} seen on {content['reader']}",
        )
        check(
            "replication lag",
            stats["max"] is not None and stats["max"] <= max_lag,
            f"{stats['count']} edits: median {_fmt_lag(stats['median'])} s, p90 {_fmt_lag(stats['p90'])} s, "
            f"max {_fmt_lag(stats['max'])} s, min {_fmt_lag(stats['min'])} s (bound {max_lag:g} s); each: "
            + " ".join(_fmt_lag(lag) for lag in lags),
        )
        served_check(edit_seq, "the last edit")
        never_older(prev)
    elif kind == "edit_kill":
        writer, taker = content["writer"], content["taker"]
        t_kill = content.get("t_kill")
        seen = parse_jsonl((content.get("watch") or {}).get(taker, ""))
        lag = (replication_lags(edits, seen) or [None])[-1] if edits else None
        # on the taker (its watcher saw it): it must serve it; else the edit died with the writer
        reached = lag is not None
        age = None if not edits or t_kill is None else round(float(t_kill) - float(edits[-1]["t"]), 3)
        summary.update(lost=not reached, age_at_kill=age)
        stats = content.get("lag") or {}
        check(
            f"{taker} serves the newest copy it could have",
            served is not None and served == (edit_seq if reached else prev),
            f"v{edit_seq} written on {writer} {_fmt_lag(age)} s before the kill, "
            + (f"on {taker} {_fmt_lag(lag)} s after the edit" if reached else f"not on {taker} by then")
            + f"; {taker} serves v{served}"
            + (
                ""
                if reached
                else f" (edit lost from service: up to the replication lag can be lost on a crash, "
                f"median {_fmt_lag(stats.get('median'))} s, max {_fmt_lag(stats.get('max'))} s measured)"
            ),
        )
        taker_check(taker, "unreachable")
        check(
            f"{taker} says in its log that it serves its own copy",
            "unreachable" in str(starts.get(taker, {}).get("message", "")),
            str(starts.get(taker, {}).get("message", "no record"))[:200],
        )
        never_older(prev, after=float(t_kill) if t_kill else None)
    elif kind in ("edit_start", "edit_switch"):
        taker, writer = content["taker"], content["writer"]
        served_check(edit_seq, f"the edit made on {writer} just before")
        # every request that started after the edit was saved (on either node, before and after the move)
        never_older(edit_seq, after=float(edits[-1]["t"]) + 0.1 if edits else None)
        taker_check(taker, "pull")
        on_writer = files.get(writer, {}).get("seq")
        check(
            f"{writer} kept its edit",
            on_writer == edit_seq,
            f"{writer}'s copy is v{on_writer}; expected v{edit_seq} (never overwritten by an older copy)",
        )
        if content.get("gone") is not None:
            gone = _json(content.get("gone"))
            check(
                "a page deleted meanwhile stays deleted",
                gone.get("status") == 404,
                f"the page deleted on {writer} answers HTTP {gone.get('status')} on the VIP; expected 404",
            )
    elif kind == "start":
        returning, server = content["reader"], content["taker"]
        expected = content.get("served_before")
        served_check(expected, f"{server} keeps serving its copy")
        never_older(expected)
        on_server = files.get(server, {}).get("seq")
        on_returning = files.get(returning, {}).get("seq")
        check(
            f"{returning} never pushed its copy",
            on_server == expected,
            f"{server}'s copy is v{on_server}; it served v{expected} before {returning} came back",
        )
        check(
            f"{returning} brought up to date by {server}",
            on_returning == expected,
            f"{returning}'s copy is v{on_returning} (bound {max_lag:g} s after it is back); expected v{expected}",
        )
    else:
        raise ValueError(f"unknown content case kind {kind!r}")

    lost = content.get("lost_seq")
    if lost is not None:
        for node, raw in (content.get("backups") or {}).items():
            holding = _json(raw).get("holding") or []
            check(
                f"the lost edit is kept on {node}",
                bool(holding),
                f"v{lost} in {', '.join(holding) if holding else 'no file of the backup directory'}",
            )
    record["ok"] = all(item["ok"] for item in checks)
    return record


def evaluate_content_case(case: dict) -> dict:
    """evaluate_case for the generic part (VIP holder, node views, outage, VIP watchers), then the content checks."""
    return evaluate_content(evaluate_case(case), dict(case["content"]))
