"""The drill's evidence: `ip addr` and cl_status parsing, probe logs, outages, case verdicts, the probe itself."""

import importlib.util
import json
import pathlib
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROBE = ROOT / "roles" / "lab_drill" / "files" / "drill_probe.py"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


dr = _load("drill_report_standalone", ROOT / "plugins" / "module_utils" / "drill_report.py")

# `ip -o -4 addr show` on web1 while it holds the VIP (IPaddr adds it as label eth0:0)
IP_WEB1_HOLDING = (
    "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
    "2: eth0    inet 10.213.10.11/24 brd 10.213.10.255 scope global eth0\\       valid_lft forever preferred_lft forever\n"
    "2: eth0    inet 10.213.10.50/24 brd 10.213.10.255 scope global secondary eth0:0\\       valid_lft forever"
    " preferred_lft forever\n"
)
IP_WEB2_IDLE = (
    "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
    "2: eth0    inet 10.213.10.12/24 brd 10.213.10.255 scope global eth0\\       valid_lft forever preferred_lft forever\n"
)
PAGE_WEB1 = (
    '<!DOCTYPE html>\n<!-- Ansible managed -->\n<html>\n<head><meta charset="utf-8"><title>It works! Principal'
    "</title></head>\n<body>\n<h1>It works! Principal</h1>\n<p>Served by web1</p>\n</body>\n</html>\n"
)


# -- ip addr ----------------------------------------------------------------------------------------


def test_inet_addresses_keep_interface_prefix_and_alias_label():
    found = dr.parse_inet_addresses(IP_WEB1_HOLDING)
    assert [(a.ifname, a.address, a.prefix, a.label) for a in found] == [
        ("lo", "127.0.0.1", 8, "lo"),
        ("eth0", "10.213.10.11", 24, "eth0"),
        ("eth0", "10.213.10.50", 24, "eth0:0"),
    ]


def test_inet6_lines_of_plain_ip_o_addr_are_skipped():
    text = (
        IP_WEB2_IDLE
        + "2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever\n"
    )
    assert [a.address for a in dr.parse_inet_addresses(text)] == ["127.0.0.1", "10.213.10.12"]


def test_vip_holder_matches_whole_addresses_only():
    assert dr.holds_address(IP_WEB1_HOLDING, "10.213.10.50")
    assert not dr.holds_address(IP_WEB2_IDLE, "10.213.10.50")
    assert not dr.holds_address(IP_WEB1_HOLDING, "10.213.10.5")  # prefix of .50 and .11
    assert not dr.holds_address("", "10.213.10.50")


# -- cl_status --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("out", "rc", "expected"),
    [("active\n", 0, "active"), ("dead\n", 1, "dead"), (" UP ", 0, "up"), ("init", 0, "init")],
)
def test_cl_status_word_is_the_answer_whatever_the_exit_code(out, rc, expected):
    assert dr.parse_cl_status(out, rc) == expected


def test_cl_status_without_a_status_word_is_an_error_with_the_reason():
    got = dr.parse_cl_status("", 11, "Error. May be due to incorrect node name\n")
    assert got == "error: Error. May be due to incorrect node name (rc 11)"
    assert dr.parse_cl_status("", None, "") == "error: no output"


# -- probe logs -------------------------------------------------------------------------------------


def _sample(t, ok, body="It works! Principal", dt=0.01):
    row = {"t": t, "dt": dt, "ok": ok, "status": 200 if ok else None}
    if ok:
        row["body"] = body
    else:
        row["error"] = "timed out"
    return row


def test_jsonl_drops_a_torn_last_line_but_not_a_bad_middle_line():
    assert dr.parse_jsonl('{"t": 1}\n{"t": 2}\n{"t": 3, "o') == [{"t": 1}, {"t": 2}]
    with pytest.raises(ValueError, match="line 2"):
        dr.parse_jsonl('{"t": 1}\nnot json\n{"t": 3}\n')
    assert dr.parse_jsonl("") == []


def test_outage_runs_from_first_failure_to_next_success():
    samples = [
        _sample(0.0, True),
        _sample(0.1, False),
        _sample(0.2, False),
        _sample(0.35, True),
        _sample(0.4, True),
    ]
    summary = dr.summarize_probe(samples)
    assert (summary.requests, summary.failed) == (5, 2)
    assert len(summary.outages) == 1
    assert summary.outages[0].recovered
    assert summary.outage_seconds == pytest.approx(0.25)


def test_samples_are_ordered_by_start_time_and_windows_counted_separately():
    # concurrent requests finish out of order: the log is not sorted
    samples = [
        _sample(1.0, True),
        _sample(0.2, False),
        _sample(0.0, True),
        _sample(0.6, True),
        _sample(0.8, False),
    ]
    samples[-1]["dt"] = 2.0  # the last one hung until its timeout
    summary = dr.summarize_probe(samples)
    assert summary.failed == 2
    assert [round(o.seconds, 2) for o in summary.outages] == [0.4, 0.2]
    assert summary.outage_seconds == pytest.approx(0.6)
    assert summary.longest_outage == pytest.approx(0.4)


def test_outage_still_going_at_the_end_is_measured_to_the_last_answer():
    summary = dr.summarize_probe(
        [_sample(0.0, True), _sample(0.5, False, dt=1.0), _sample(1.0, False, dt=2.0)]
    )
    assert not summary.outages[0].recovered
    assert summary.outage_seconds == pytest.approx(2.5)


def test_quiet_probe_has_no_outage_and_counts_pages():
    summary = dr.summarize_probe([_sample(t / 10, True, PAGE_WEB1) for t in range(20)])
    assert (summary.failed, summary.outage_seconds, summary.outages) == (0, 0.0, [])
    assert summary.pages == {"It works! Principal": 20}


def test_page_text_is_what_a_person_reads():
    assert dr.page_text(PAGE_WEB1) == "It works! Principal"
    assert dr.page_text("<html><head><title>T</title></head><body>x</body></html>") == "T"
    assert dr.page_text("<p>only   text</p>") == "only text"
    assert dr.page_text("It works!\n Secondaire\n") == "It works! Secondaire"


def test_recovery_is_the_first_expected_page_after_the_action():
    samples = [
        _sample(9.9, True, "It works! Principal"),
        _sample(10.5, False),
        _sample(21.0, True, "It works! Secondaire"),
    ]
    assert dr.first_page_after(samples, "Secondaire", 10.0) == 21.0
    assert dr.first_page_after(samples, "Principal", 10.0) is None


# -- VIP watchers -----------------------------------------------------------------------------------


def _watch(rows):
    # the watcher writes the `ip` text only when it changed since its previous line
    out, last = [], None
    for t, text in rows:
        row = {"t": t}
        if text != last:
            row["ip"] = last = text
        out.append(row)
    return out


def test_vip_timeline_carries_the_last_ip_text_forward():
    timeline = dr.vip_timeline(
        _watch([(0.0, IP_WEB2_IDLE), (0.2, IP_WEB2_IDLE), (0.4, IP_WEB1_HOLDING)]), "10.213.10.50"
    )
    assert timeline == [(0.0, False), (0.2, False), (0.4, True)]


def test_clean_handover_between_samples_is_not_an_overlap():
    web2 = _watch([(0.0, IP_WEB1_HOLDING), (0.2, IP_WEB1_HOLDING), (0.4, IP_WEB2_IDLE), (0.6, IP_WEB2_IDLE)])
    web1 = _watch([(0.1, IP_WEB2_IDLE), (0.3, IP_WEB2_IDLE), (0.5, IP_WEB1_HOLDING), (0.7, IP_WEB1_HOLDING)])
    most, overlaps = dr.max_simultaneous_holders({"web1": web1, "web2": web2}, "10.213.10.50")
    assert (most, overlaps) == (1, [])


def test_two_nodes_holding_at_once_are_caught():
    web2 = _watch(
        [(0.0, IP_WEB1_HOLDING), (0.2, IP_WEB1_HOLDING), (0.4, IP_WEB1_HOLDING), (0.6, IP_WEB2_IDLE)]
    )
    web1 = _watch([(0.1, IP_WEB2_IDLE), (0.3, IP_WEB1_HOLDING), (0.5, IP_WEB1_HOLDING)])
    most, overlaps = dr.max_simultaneous_holders({"web1": web1, "web2": web2}, "10.213.10.50")
    assert most == 2
    assert overlaps == [0.3, 0.4]


# -- judging a case ---------------------------------------------------------------------------------


def _snap(node, ip, statuses, vip="10.213.10.50"):
    """A node's heartbeat_info result: its name, its view of every node, whether it holds the VIP's group."""
    return json.dumps(
        {
            "running": True,
            "engine": "heartbeat",
            "local_node": node,
            "nodes": {n: {"status": s, "type": "normal", "links": {}} for n, s in statuses.items()},
            "groups": [{"node": "web1", "key": f"IPaddr::{vip}", "addresses": [vip],
                        "held_here": dr.holds_address(ip, vip)}],
            "rscstatus": "local",
        }
    )


def _case(**changes):
    case = {
        "id": "2",
        "title": "web2 down (podman kill)",
        "vip": "10.213.10.50",
        "nodes": ["web1", "web2"],
        "running": ["web1"],
        "expect": {
            "holder": "web1",
            "status": {"web1": {"web1": "active", "web2": "dead"}},
            "page": "It works! Principal",
            "max_failed": 0,
        },
        "snapshots": {"web1": _snap("web1", IP_WEB1_HOLDING, {"web1": "active", "web2": "dead"})},
        "page": {"status": 200, "content": PAGE_WEB1},
        "probe": "\n".join(json.dumps(_sample(t / 10, True, PAGE_WEB1)) for t in range(30)),
        "watch": {
            "web1": "\n".join(json.dumps(r) for r in _watch([(t / 5, IP_WEB1_HOLDING) for t in range(10)]))
        },
        "t_action": 0.05,
    }
    case.update(changes)
    return case


def _failed(record):
    return [c["name"] for c in record["checks"] if not c["ok"]]


def test_case_2_as_it_should_be_passes():
    record = dr.evaluate_case(_case())
    assert record["ok"], record["checks"]
    assert record["holders"] == ["web1"]
    assert record["views"]["web1"]["status"] == {"web1": "active", "web2": "dead"}
    assert record["page"] == "It works! Principal"
    assert record["probe"]["requests"] == 30
    assert record["vip_watch"]["max_holders"] == 1


def test_vip_on_the_wrong_node_fails():
    snaps = {"web1": _snap("web1", IP_WEB2_IDLE, {"web1": "active", "web2": "dead"})}
    assert _failed(dr.evaluate_case(_case(snapshots=snaps))) == ["exactly one VIP holder"]


def test_two_vip_holders_fail_even_when_one_is_expected():
    case = _case(running=["web1", "web2"])
    case["snapshots"]["web2"] = _snap("web2", IP_WEB1_HOLDING.replace("10.213.10.11/", "10.213.10.12/"), {})
    record = dr.evaluate_case(case)
    assert record["holders"] == ["web1", "web2"]
    assert "exactly one VIP holder" in _failed(record)


def test_unexpected_cl_status_fails_and_says_what_was_seen():
    snaps = {"web1": _snap("web1", IP_WEB1_HOLDING, {"web1": "active", "web2": "active"})}
    record = dr.evaluate_case(_case(snapshots=snaps))
    assert _failed(record) == ["status from web1"]
    assert "web2=active" in record["checks"][1]["detail"]


def test_a_lost_request_fails_case_2():
    probe = _case()["probe"] + "\n" + json.dumps(_sample(3.5, False))
    record = dr.evaluate_case(_case(probe=probe))
    assert _failed(record) == ["failed requests"]
    assert record["probe"]["failed"] == 1


def test_wrong_page_and_empty_probe_fail():
    record = dr.evaluate_case(_case(page={"status": 503, "content": ""}, probe=""))
    assert _failed(record) == ["page served on the VIP", "probe ran"]
    assert record["page"] == "HTTP 503"


def test_recovery_over_the_limit_fails_case_3():
    expect = {"holder": "web2", "page": "Secondaire", "measure_recovery": True, "max_recovery_s": 25}
    snaps = {"web2": _snap("web2", IP_WEB1_HOLDING.replace("10.213.10.11/", "10.213.10.12/"), {})}
    slow = [_sample(100.0, True), _sample(101.0, False), _sample(127.0, True, "It works! Secondaire")]
    fast = [_sample(100.0, True), _sample(101.0, False), _sample(112.0, True, "It works! Secondaire")]
    base = {"running": ["web2"], "expect": expect, "snapshots": snaps, "t_action": 100.5, "watch": {}}
    base["page"] = {"status": 200, "content": "It works! Secondaire"}
    late = dr.evaluate_case(_case(probe="\n".join(map(json.dumps, slow)), **base))
    ok = dr.evaluate_case(_case(probe="\n".join(map(json.dumps, fast)), **base))
    assert _failed(late) == ["recovery time"]
    assert late["probe"]["recovery_s"] == 26.5
    assert ok["ok"] and ok["probe"]["recovery_s"] == 11.5


def test_missing_snapshot_and_wrong_hostname_fail():
    assert _failed(dr.evaluate_case(_case(snapshots={"web1": ""})))[0] == "snapshot of web1"
    unreachable = {"unreachable": True, "msg": "container is not running"}
    record = dr.evaluate_case(_case(snapshots={"web1": unreachable}))
    assert _failed(record)[0] == "snapshot of web1" and "container is not running" in record["checks"][0]["detail"]
    snaps = {"web1": _snap("hakit-lab-web1", IP_WEB1_HOLDING, {"web1": "active", "web2": "dead"})}
    assert _failed(dr.evaluate_case(_case(snapshots=snaps))) == ["uname -n on web1"]


def test_report_has_a_summary_row_and_a_section_per_case():
    good, bad = (
        dr.evaluate_case(_case()),
        dr.evaluate_case(_case(id="3", page={"status": 200, "content": "x"})),
    )
    text = dr.render_report([good, bad], "drill")
    assert text.startswith("# drill\n")
    assert "| 2 | web2 down (podman kill) | web1 | It works! Principal | 30 | 0 | 0.0 | - | 0.0 | PASS |" in text
    assert "### Case 3:" in text and "**FAIL**" in text
    assert "| web2 | no | - | - | - |" in text
    assert dr.failed_checks([good, bad]) == ["case 3: page served on the VIP: client got 'x'"]


# -- the probe script, against a server on loopback -----------------------------------------------


class _Page(BaseHTTPRequestHandler):
    def do_GET(self):
        body = PAGE_WEB1.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def web():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _probe(*args):
    done = subprocess.run([sys.executable, str(PROBE), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_http_probe_records_each_request_and_stops_at_max_samples(tmp_path, web):
    out = tmp_path / "logs" / "http.jsonl"
    _probe(
        "http",
        "--url",
        web,
        "--out",
        str(out),
        "--stop-file",
        str(tmp_path / "stop"),
        "--interval",
        "0.02",
        "--max-samples",
        "8",
    )
    summary = dr.summarize_probe(dr.parse_jsonl(out.read_text()))
    assert (summary.requests, summary.failed, summary.pages) == (8, 0, {"It works! Principal": 8})
    assert json.loads((tmp_path / "logs" / "http.jsonl.end").read_text())["reason"] == "max-samples"


def test_http_probe_counts_refused_requests_and_obeys_the_stop_file(tmp_path):
    stop = tmp_path / "stop"
    stop.touch()
    out = tmp_path / "http.jsonl"
    with socket.socket() as closed:  # a loopback port nobody listens on any more: connection refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    _probe("http", "--url", url, "--out", str(out), "--stop-file", str(stop), "--max-samples", "50")
    rows = dr.parse_jsonl(out.read_text())
    assert len(rows) == 1 and not rows[0]["ok"]
    assert json.loads((tmp_path / "http.jsonl.end").read_text())["reason"] == "stop-file"


def test_background_recorder_is_stopped_and_read_by_collect(tmp_path, web):
    out, stop = tmp_path / "http.jsonl", tmp_path / "stop"
    _probe(
        "http",
        "--background",
        "--url",
        web,
        "--out",
        str(out),
        "--stop-file",
        str(stop),
        "--interval",
        "0.05",
        "--max-seconds",
        "30",
    )
    printed = _probe("collect", "--out", str(out), "--stop-file", str(stop), "--wait", "20")
    rows = dr.parse_jsonl(printed)
    assert rows and all(row["ok"] for row in rows)
    assert json.loads((tmp_path / "http.jsonl.end").read_text())["reason"] == "stop-file"


def test_get_prints_one_answer(web):
    answer = json.loads(_probe("get", "--url", web))
    assert answer["ok"] and dr.page_text(answer["body"]) == "It works! Principal"


def test_a_failed_action_fails_the_case_and_names_its_exit_code():
    base = {"id": "m1", "title": "web2 heartbeat -> agent", "vip": "10.0.0.50", "nodes": ["web1", "web2"],
            "running": [], "expect": {}, "probe": '{"t": 1.0, "ok": true, "body": "x"}\n'}  # fmt: skip
    ok = dr.evaluate_case({**base, "action": {"name": "converge", "rc": 0, "output": "PLAY RECAP"}})
    assert ok["ok"]
    bad = dr.evaluate_case({**base, "action": {"name": "converge", "rc": 2, "output": "a\nb\nfatal: boom"}})
    unhealed = dr.evaluate_case({**base, "heal": {"name": "heal", "rc": 1, "output": "Error: No such table"}})
    assert [c["name"] for c in unhealed["checks"] if not c["ok"]] == ["heal"]
    assert not bad["ok"]
    assert any(c["name"] == "action" and "exited with 2" in c["detail"] and "boom" in c["detail"]
               for c in bad["checks"])  # fmt: skip


def test_a_node_whose_daemon_is_down_shows_errors_not_statuses():
    info = {"running": False, "local_node": "web1", "nodes": {"web1": {"status": None}, "web2": {"status": None}},
            "groups": []}  # fmt: skip
    view = dr.node_view(info, "10.213.10.50")
    assert view["vip"] is False
    assert view["status"] == {"web1": "error: the daemon does not answer", "web2": "error: the daemon does not answer"}


# -- partitions, heals and moves -------------------------------------------------------------------


def _ip(node_octet, holding):
    text = f"2: eth0    inet 10.213.10.{node_octet}/24 brd 10.213.10.255 scope global eth0\n"
    return text + ("2: eth0    inet 10.213.10.50/24 scope global secondary eth0:0\n" if holding else "")


def _holding(node_octet, held_at):
    """Watcher samples every 0.5 s from 0 to 20 s; held_at(t) says whether the node holds the VIP then."""
    return [{"t": t / 2, "ip": _ip(node_octet, held_at(t / 2))} for t in range(41)]


def test_a_partition_reports_two_holders_and_judges_the_heal():
    # web1 holds throughout; web2 takes over at 6 s (partition), releases at 13 s (heal at 12 s)
    watch = {"web1": _holding(11, lambda t: True), "web2": _holding(12, lambda t: 6 <= t < 13)}
    spans = dr.holder_spans(watch, "10.213.10.50")
    assert [h for _s, _e, h in spans] == [("web1",), ("web1", "web2"), ("web1",)]
    # released between the samples at 12.5 s and 13 s: counted to the next sample (the watchers' resolution)
    assert dr.seconds_with(spans, 12.0, lambda n: n > 1) == 1.0
    assert dr.seconds_with(spans, 12.0, lambda n: n == 0) == 0.0
    case = _case(running=["web1"], t_action=0.0, t_heal=12.0,
                 watch={n: "\n".join(map(json.dumps, rows)) for n, rows in watch.items()},
                 expect={"holder": "web1", "allow_dual": True, "max_dual_after_heal_s": 4,
                         "max_none_after_heal_s": 0})  # fmt: skip
    record = dr.evaluate_case(case)
    assert record["ok"], record["checks"]
    assert record["vip_watch"]["dual_after_heal_s"] == 1.0 and record["vip_watch"]["dual_s"] == 7.0
    assert "web1+web2 6.0-13.0 s" in record["vip_watch"]["over_time"]
    slow = dict(case, expect={**case["expect"], "max_dual_after_heal_s": 0.2})
    assert _failed(dr.evaluate_case(slow)) == ["two holders after the heal"]
    # two holders are a failure anywhere else
    assert "never two VIP holders" in _failed(dr.evaluate_case(dict(case, expect={"holder": "web1"})))


def test_a_gap_after_the_heal_is_measured_and_fails_when_none_is_allowed():
    watch = {"web1": _holding(11, lambda t: t < 12 or t >= 15), "web2": _holding(12, lambda t: 6 <= t < 12)}
    case = _case(running=["web1"], t_action=0.0, t_heal=12.0,
                 watch={n: "\n".join(map(json.dumps, rows)) for n, rows in watch.items()},
                 expect={"holder": "web1", "allow_dual": True, "max_none_after_heal_s": 0})  # fmt: skip
    record = dr.evaluate_case(case)
    assert record["vip_watch"]["none_after_heal_s"] == 3.0
    assert _failed(record) == ["no holder after the heal"]


def test_move_time_is_when_the_expected_node_alone_holds():
    watch = {"web1": _holding(11, lambda t: t < 9), "web2": _holding(12, lambda t: t >= 9.5)}
    case = _case(running=["web2"], t_action=1.0, snapshots={},
                 watch={n: "\n".join(map(json.dumps, rows)) for n, rows in watch.items()},
                 expect={"holder": "web2", "max_move_s": 11})  # fmt: skip
    record = dr.evaluate_case(case)
    assert record["vip_watch"]["move_s"] == 8.5
    assert "move time" not in _failed(record)
    assert "move time" in _failed(dr.evaluate_case(dict(case, expect={"holder": "web2", "max_move_s": 5})))


def test_holders_are_only_told_while_every_watcher_records():
    # web2's watcher stops at 5 s (its container was killed): after that nobody knows what it held
    watch = {"web1": _holding(11, lambda t: True), "web2": _holding(12, lambda t: False)[:11]}
    spans = dr.holder_spans(watch, "10.213.10.50")
    assert spans == [(0.0, 5.0, ("web1",))]


# -- content sync cases ------------------------------------------------------------------------------

RUN = "20261201T061235"


def _page(seq, run=RUN):
    return f"<html><head><title>hakit-drill {run} v{seq}</title></head><body><h1>hakit-drill {run} v{seq}</h1></body></html>"


def _jsonl(rows):
    return "\n".join(json.dumps(row) for row in rows)


def test_content_version_reads_only_pages_of_this_run():
    assert dr.content_version(_page(7), RUN) == 7
    assert dr.content_version(_page(7, run="20250101T000000"), RUN) is None
    assert dr.content_version(PAGE_WEB1, RUN) is None
    assert dr.content_version("", RUN) is None


def test_lag_is_the_time_until_the_other_copy_holds_that_version_or_a_later_one():
    edits = [{"seq": 1, "t": 10.0}, {"seq": 2, "t": 10.5}, {"seq": 3, "t": 11.0}]
    # v2 was overwritten by v3 before a sync ran: it reached the other node inside v3
    seen = [{"t": 9.0, "seq": None}, {"t": 11.2, "seq": 1}, {"t": 12.4, "seq": 3}]
    assert dr.replication_lags(edits, seen) == [1.2, 1.9, 1.4]


def test_an_edit_that_never_arrives_has_no_lag_and_counts_as_not_reached():
    lags = dr.replication_lags([{"seq": 1, "t": 1.0}, {"seq": 2, "t": 2.0}], [{"t": 1.5, "seq": 1}])
    assert lags == [0.5, None]
    summary = dr.lag_summary(lags)
    assert (summary["count"], summary["reached"], summary["max"], summary["median"]) == (2, 1, 0.5, 0.5)


def test_an_older_copy_seen_after_the_edit_is_not_its_arrival():
    # the watcher saw v4 (an older copy) after v5 was written: only v5 or later counts
    assert dr.replication_lags([{"seq": 5, "t": 3.0}], [{"t": 3.5, "seq": 4}, {"t": 4.25, "seq": 5}]) == [
        1.25
    ]


def test_lag_summary_gives_median_p90_and_max():
    summary = dr.lag_summary([1.0, 2.0, 3.0, 4.0, 10.0])
    assert (summary["min"], summary["median"], summary["max"], summary["mean"]) == (1.0, 3.0, 10.0, 4.0)
    assert summary["p90"] == pytest.approx(7.6)
    assert dr.lag_summary([None])["median"] is None


def _content_case(kind, **content):
    """A content case whose generic part passes (web1 serving, both up), with the content evidence given."""
    base = _case(id="c", running=["web1"])
    base["content"] = {
        "kind": kind,
        "run": RUN,
        "max_lag": 15.0,
        "writer": "web1",
        "reader": "web2",
        "taker": "web1",
        **content,
    }
    return base


def _get(seq=None, status=200):
    return json.dumps({"ok": status == 200, "status": status, "body": _page(seq) if seq is not None else ""})


def _served(*pairs):
    return _jsonl([{"t": t, "ok": True, "body": _page(seq)} for t, seq in pairs])


def test_lag_case_passes_when_every_edit_arrives_within_the_bound():
    edits = [{"seq": i, "t": 100.0 + i} for i in range(1, 4)]
    seen = _jsonl([{"t": 100.0 + i + 0.8, "seq": i} for i in range(1, 4)])
    record = dr.evaluate_content_case(
        _content_case(
            "lag", edits=_jsonl(edits), watch={"web2": seen}, final=_get(3), probe=_served((104, 3))
        )
    )
    assert record["ok"], _failed(record)
    assert record["content"]["summary"]["reached"] == 3
    assert record["content"]["lags"] == [0.8, 0.8, 0.8]


def test_lag_case_fails_over_the_bound_and_when_an_edit_never_arrives():
    edits = [{"seq": 1, "t": 100.0}, {"seq": 2, "t": 101.0}]
    slow = dr.evaluate_content_case(
        _content_case(
            "lag",
            max_lag=5.0,
            edits=_jsonl(edits),
            watch={"web2": _jsonl([{"t": 120.0, "seq": 2}])},
            final=_get(2),
        )
    )
    assert _failed(slow) == ["replication lag"]
    lost = dr.evaluate_content_case(
        _content_case(
            "lag", edits=_jsonl(edits), watch={"web2": _jsonl([{"t": 100.5, "seq": 1}])}, final=_get(2)
        )
    )
    assert "every edit reached web2" in _failed(lost)


def test_edits_may_come_as_a_list_of_lines():
    edits = [json.dumps({"seq": 1, "t": 1.0})]
    record = dr.evaluate_content_case(
        _content_case("lag", edits=edits, watch={"web2": _jsonl([{"t": 1.5, "seq": 1}])}, final=_get(1))
    )
    assert record["content"]["lags"] == [0.5]


def _kill_case(seen, served, start_message="peer web1 unreachable (timed out): serving the local copy"):
    return _content_case(
        "edit_kill",
        writer="web1",
        reader="web2",
        taker="web2",
        edits=_jsonl([{"seq": 21, "t": 200.0}]),
        t_kill=200.3,
        prev_seq=20,
        watch={"web2": _jsonl(seen)},
        final=_get(served),
        probe=_served((199.0, 21), (215.0, served)),
        last_start={"web2": json.dumps({"action": "unreachable", "message": start_message})},
        lag={"median": 0.8, "max": 1.3},
    )


def test_crash_edit_that_had_not_reached_the_taker_is_reported_lost_with_the_lag():
    record = dr.evaluate_content_case(_kill_case([{"t": 150.0, "seq": 20}], served=20))
    assert record["ok"], _failed(record)
    assert record["content"]["lost"] is True
    detail = next(
        c["detail"] for c in record["checks"] if c["name"] == "web2 serves the newest copy it could have"
    )
    assert "not on web2" in detail and "max 1.30 s" in detail


def test_crash_edit_that_reached_the_taker_must_be_served():
    seen = [{"t": 150.0, "seq": 20}, {"t": 200.2, "seq": 21}]
    assert dr.evaluate_content_case(_kill_case(seen, served=21))["ok"]
    # the taker had v21 and serves v20: an edit lost by the takeover itself
    assert "web2 serves the newest copy it could have" in _failed(
        dr.evaluate_content_case(_kill_case(seen, served=20))
    )


def test_taker_that_does_not_say_it_serves_its_own_copy_fails():
    record = dr.evaluate_content_case(
        _kill_case([{"t": 150.0, "seq": 20}], served=20, start_message="pulled")
    )
    assert "web2 says in its log that it serves its own copy" in _failed(record)


def _failback_case(final, probe, on_writer=22, action="pull", gone_status=404):
    return _content_case(
        "edit_start",
        writer="web2",
        reader="web1",
        taker="web1",
        edits=_jsonl([{"seq": 22, "t": 300.0}]),
        prev_seq=20,
        final=_get(final),
        probe=probe,
        files={"web2": json.dumps({"seq": on_writer})},
        gone=json.dumps({"ok": gone_status == 200, "status": gone_status}),
        last_start={"web1": json.dumps({"action": action, "message": "peer web2 served last"})},
    )


def test_failback_serves_the_edit_made_while_the_primary_was_down():
    record = dr.evaluate_content_case(_failback_case(22, _served((299.0, 20), (300.5, 22), (320.0, 22))))
    assert record["ok"], _failed(record)


def test_failback_that_serves_the_returning_nodes_old_copy_even_once_fails():
    record = dr.evaluate_content_case(_failback_case(22, _served((300.5, 22), (318.0, 21), (320.0, 22))))
    assert _failed(record) == ["never an older copy served"]


def test_failback_fails_when_the_old_copy_overwrote_the_writer_or_a_deleted_page_came_back():
    record = dr.evaluate_content_case(
        _failback_case(21, _served((300.5, 21)), on_writer=21, action="keep", gone_status=200)
    )
    assert set(_failed(record)) >= {
        "content served on the VIP",
        "never an older copy served",
        "web1 took over as the rule says",
        "web2 kept its edit",
        "a page deleted meanwhile stays deleted",
    }


def test_returning_node_is_brought_up_to_date_and_never_pushes():
    def case(on_web1, on_web2):
        return _content_case(
            "start",
            writer="web1",
            reader="web2",
            taker="web1",
            served_before=23,
            final=_get(23),
            probe=_served((400.0, 23), (410.0, 23)),
            files={"web1": json.dumps({"seq": on_web1}), "web2": json.dumps({"seq": on_web2})},
        )

    assert dr.evaluate_content_case(case(23, 23))["ok"]
    assert _failed(dr.evaluate_content_case(case(24, 23))) == ["web2 never pushed its copy"]
    assert _failed(dr.evaluate_content_case(case(23, 24))) == ["web2 brought up to date by web1"]


def test_a_lost_edit_must_be_found_in_the_backup_of_the_node_that_lost_it():
    def case(holding):
        return _content_case(
            "start",
            writer="web1",
            reader="web2",
            taker="web1",
            served_before=23,
            final=_get(23),
            files={"web1": json.dumps({"seq": 23}), "web2": json.dumps({"seq": 23})},
            lost_seq=24,
            backups={"web2": json.dumps({"seq": 23, "holding": holding})},
        )

    assert dr.evaluate_content_case(case(["/var/lib/hakit-content-sync/backup/live/var/www/html/p.html"]))[
        "ok"
    ]
    assert _failed(dr.evaluate_content_case(case([]))) == ["the lost edit is kept on web2"]


def test_an_unknown_content_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown content case kind"):
        dr.evaluate_content_case(_content_case("bogus"))


def test_probe_edits_write_versions_a_watcher_sees_and_read_finds(tmp_path):
    page, gone = tmp_path / "p.html", tmp_path / "gone.html"
    out, stop = tmp_path / "file.jsonl", tmp_path / "stop"
    _probe(
        "file",
        "--background",
        "--file",
        str(page),
        "--run",
        RUN,
        "--out",
        str(out),
        "--stop-file",
        str(stop),
        "--interval",
        "0.02",
        "--max-seconds",
        "30",
    )
    edits = dr.parse_jsonl(
        _probe(
            "edit",
            "--file",
            str(page),
            "--run",
            RUN,
            "--seq",
            "5",
            "--count",
            "3",
            "--interval",
            "0.2",
            "--create",
            str(gone),
        )
    )
    assert [e["seq"] for e in edits] == [5, 6, 7]
    assert dr.content_version(page.read_text(), RUN) == 7 and gone.exists()
    seen = dr.parse_jsonl(_probe("collect", "--out", str(out), "--stop-file", str(stop), "--wait", "20"))
    assert [row["seq"] for row in seen][-1] == 7
    assert all(lag is not None and lag < 5 for lag in dr.replication_lags(edits, seen))
    _probe("edit", "--file", str(page), "--run", RUN, "--seq", "8", "--delete", str(gone))
    state = json.loads(
        _probe("read", "--file", str(page), "--run", RUN, "--grep-dir", str(tmp_path), "--grep-seq", "8")
    )
    assert state["seq"] == 8 and state["holding"] == [str(page)] and not gone.exists()
