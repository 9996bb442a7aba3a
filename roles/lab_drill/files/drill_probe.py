# Copyright: hakit.heartbeat contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill's eyes inside the lab containers (stdlib only, Python 3.11+). Records raw evidence; the
controller parses it (plugins/module_utils/drill_report.py). What each node sees of its cluster comes from
the hakit.heartbeat.heartbeat_info module, whatever engine runs the node.

  http      on the client: start a GET of the URL every --interval s, whether or not the previous one
            has answered (a dead VIP holder makes requests hang), one JSON line per request
  vip       on a node: `ip -o -4 addr show` every --interval s, the text only when it changed
  collect   touch the stop file, wait for the recorder to end, print its JSON lines
  get       one GET, as a JSON object

Content sync (hakit.heartbeat.content_sync) cases: a page whose <h1> is "hakit-drill RUN vN"
  edit      write versions --seq.. of --file (temp file + rename, as an editor saving), --interval s apart,
            one JSON line {seq, t} per version once it is in place; --create/--delete other pages first
  file      on a node: read --file every --interval s, a JSON line {t, seq} whenever the version changed
  read      the version of --file now, and which files under --grep-dir hold --grep-seq, as a JSON object

http and vip detach with --background (the drill drives containers with single `podman exec` calls),
are bounded by --max-seconds and --max-samples and stop early when --stop-file appears, so a drill that
dies half-way never leaves a recorder running for long. They write <out>.end when they stop.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


def _run(argv: list[str]) -> dict:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"rc": None, "out": "", "err": str(exc)}
    return {"rc": done.returncode, "out": done.stdout, "err": done.stderr}


def _fetch(url: str, timeout: float) -> dict:
    started = time.time()
    sample: dict = {"t": round(started, 3)}
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            sample.update(
                ok=answer.status == 200, status=answer.status, body=answer.read(2048).decode(errors="replace")
            )
    except urllib.error.HTTPError as exc:
        sample.update(ok=False, status=exc.code, error=f"HTTP {exc.code}")
    except (OSError, ValueError) as exc:  # refused, unreachable, timeout, reset
        sample.update(ok=False, status=None, error=str(getattr(exc, "reason", exc)))
    sample["dt"] = round(time.time() - started, 3)
    return sample


def _detach() -> bool:
    """Double fork; True in the detached grandchild, which must then run the recorder."""
    child = os.fork()
    if child:
        os.waitpid(child, 0)  # the middle process exits at once; reap it
        return False
    os.setsid()
    if os.fork():
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    return True


def _loop(args: argparse.Namespace, take_sample, concurrent: bool = False) -> int:
    """Record one sample per --interval until the stop file, --max-seconds or --max-samples."""
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    for stale in (args.out, args.out + ".end"):
        if os.path.exists(stale):
            os.unlink(stale)
    if args.background and not _detach():
        return 0
    rows: queue.Queue = queue.Queue()
    workers: list[threading.Thread] = []
    deadline = time.monotonic() + args.max_seconds
    taken, reason = 0, "max-seconds"
    with open(args.out, "w", encoding="utf-8") as out:
        while time.monotonic() < deadline:
            tick = time.monotonic()
            if concurrent:
                worker = threading.Thread(target=lambda: rows.put(take_sample()), daemon=True)
                worker.start()
                workers = [*(w for w in workers if w.is_alive()), worker]
            else:
                rows.put(take_sample())
            taken += 1
            _drain(rows, out)
            if os.path.exists(args.stop_file):
                reason = "stop-file"
                break
            if taken >= args.max_samples:
                reason = "max-samples"
                break
            time.sleep(max(0.0, args.interval - (time.monotonic() - tick)))
        for worker in workers:
            worker.join()  # each request is bounded by its own timeout
        _drain(rows, out)
    with open(args.out + ".end", "w", encoding="utf-8") as end:
        json.dump({"t": round(time.time(), 3), "samples": taken, "reason": reason}, end)
    if args.background:
        os._exit(0)
    return 0


def _drain(rows: queue.Queue, out) -> None:
    while not rows.empty():
        row = rows.get()
        if row is not None:  # a sample that saw no change
            out.write(json.dumps(row) + "\n")
    out.flush()  # a killed container keeps what was written so far


def probe_http(args: argparse.Namespace) -> int:
    return _loop(args, lambda: _fetch(args.url, args.timeout), concurrent=True)


def watch_vip(args: argparse.Namespace) -> int:
    last = [None]

    def sample() -> dict:
        row: dict = {"t": round(time.time(), 3)}
        text = _run(["ip", "-o", "-4", "addr", "show"])["out"]
        if text != last[0]:
            row["ip"] = last[0] = text
        return row

    return _loop(args, sample)


def page_version(text: str, run: str) -> int | None:
    """N of "hakit-drill RUN vN" in a page, None when the page is another's or none."""
    match = re.search(rf"hakit-drill {re.escape(run)} v(\d+)", text or "")
    return int(match.group(1)) if match else None


def _file_version(path: str, run: str) -> int | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as page:
            return page_version(page.read(4096), run)
    except OSError:
        return None


def _write_page(path: str, run: str, seq: int) -> None:
    """One version, as an editor saves it: a temporary file beside it, renamed over it."""
    text = (
        f"<!DOCTYPE html>\n<html><head><title>hakit-drill {run} v{seq}</title></head>\n"
        f"<body><h1>hakit-drill {run} v{seq}</h1><p>written on {os.uname().nodename}</p></body></html>\n"
    )
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.hakit-tmp")
    with open(tmp, "w", encoding="utf-8") as page:
        page.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def edit(args: argparse.Namespace) -> int:
    for path in args.create:
        _write_page(path, args.run, 0)
    for path in args.delete:
        if os.path.exists(path):
            os.unlink(path)
    for index in range(args.count):
        if index:
            time.sleep(args.interval)
        seq = args.seq + index
        _write_page(args.file, args.run, seq)
        print(json.dumps({"seq": seq, "t": round(time.time(), 3)}), flush=True)
    return 0


def watch_file(args: argparse.Namespace) -> int:
    last: list = ["unset"]

    def sample() -> dict | None:
        seq = _file_version(args.file, args.run)
        if seq == last[0]:
            return None
        last[0] = seq
        return {"t": round(time.time(), 3), "seq": seq}

    return _loop(args, sample)


def read(args: argparse.Namespace) -> int:
    found = []
    if args.grep_dir and args.grep_seq is not None:
        for top, _dirs, names in os.walk(args.grep_dir):
            found += [
                os.path.join(top, name)
                for name in names
                if _file_version(os.path.join(top, name), args.run) == args.grep_seq
            ]
    json.dump(
        {"seq": _file_version(args.file, args.run), "exists": os.path.exists(args.file), "holding": found},
        sys.stdout,
    )
    return 0


def collect(args: argparse.Namespace) -> int:
    """Stop a recorder and print its samples; gives up waiting after --wait seconds."""
    with open(args.stop_file, "a", encoding="utf-8"):
        pass
    deadline = time.monotonic() + args.wait
    while not os.path.exists(args.out + ".end") and time.monotonic() < deadline:
        time.sleep(0.1)
    if not os.path.exists(args.out + ".end"):
        print(f"{args.out}: recorder did not stop within {args.wait} s", file=sys.stderr)
    if os.path.exists(args.out):
        with open(args.out, encoding="utf-8") as log:
            sys.stdout.write(log.read())
    return 0


def get(args: argparse.Namespace) -> int:
    json.dump(_fetch(args.url, args.timeout), sys.stdout)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    for name, func in (("http", probe_http), ("vip", watch_vip), ("file", watch_file)):
        mode = modes.add_parser(name)
        mode.set_defaults(func=func)
        mode.add_argument("--out", required=True, help="JSON-lines file, truncated first")
        mode.add_argument("--stop-file", required=True, help="stop as soon as this file exists")
        mode.add_argument("--interval", type=float, default=0.1)
        mode.add_argument("--max-seconds", type=float, default=120.0)
        mode.add_argument("--max-samples", type=int, default=2000)
        mode.add_argument("--background", action="store_true", help="detach and return at once")
        if name == "http":
            mode.add_argument("--url", required=True)
            mode.add_argument("--timeout", type=float, default=2.0)
        if name == "file":
            mode.add_argument("--file", required=True)
            mode.add_argument("--run", required=True)
    stop = modes.add_parser("collect")
    stop.set_defaults(func=collect)
    stop.add_argument("--out", required=True)
    stop.add_argument("--stop-file", required=True)
    stop.add_argument("--wait", type=float, default=15.0)
    once = modes.add_parser("get")
    once.set_defaults(func=get)
    once.add_argument("--url", required=True)
    once.add_argument("--timeout", type=float, default=2.0)
    writer = modes.add_parser("edit")
    writer.set_defaults(func=edit)
    writer.add_argument("--file", required=True)
    writer.add_argument("--run", required=True)
    writer.add_argument("--seq", type=int, required=True, help="version of the first edit")
    writer.add_argument("--count", type=int, default=1)
    writer.add_argument("--interval", type=float, default=0.5)
    writer.add_argument("--create", action="append", default=[], help="another page to write (version 0)")
    writer.add_argument("--delete", action="append", default=[], help="another page to remove")
    reader = modes.add_parser("read")
    reader.set_defaults(func=read)
    reader.add_argument("--file", required=True)
    reader.add_argument("--run", required=True)
    reader.add_argument("--grep-dir", default="")
    reader.add_argument("--grep-seq", type=int, default=None)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
