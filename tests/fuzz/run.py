"""Run the fuzz targets: `python tests/fuzz/run.py --cases 1000000` (make fuzz) or fewer (make fuzz-quick).

Seeded (--seed), bounded (--cases per target, --time-limit per target, in seconds). Exit 1 when any
target raised an unexpected exception or stopped on its time limit before its cases were done; the
findings (one per site, with the smallest input) are printed and, with --save DIR, written there.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import fuzzlib
import targets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per target (default %(default)s)")
    parser.add_argument("--seed", type=int, default=8, help="seed (default %(default)s)")
    parser.add_argument("--time-limit", type=float, default=3600.0, help="seconds per target at most")
    parser.add_argument("--target", action="append", choices=targets.TARGETS, help="only these (repeatable)")
    parser.add_argument("--save", metavar="DIR", help="write findings there (json)")
    args = parser.parse_args(argv)
    failed = False
    started = time.monotonic()
    for name in args.target or targets.TARGETS:
        target, generate = targets.build(name)
        report = fuzzlib.run(name, target, generate, args.cases, args.seed, args.time_limit)
        print(report.summary(), flush=True)
        if report.findings or report.cases < args.cases:
            failed = True
        if report.findings:
            for finding in report.findings.values():
                print(finding.trace)
            if args.save:
                out = pathlib.Path(args.save)
                out.mkdir(parents=True, exist_ok=True)
                entries = [{"site": f.key[1], "exception": f.key[0], "count": f.count, "example": repr(f.example)}
                           for f in report.findings.values()]  # fmt: skip
                (out / f"{name}.json").write_text(json.dumps(entries, indent=1))
    print(f"total {time.monotonic() - started:.1f} s: {'FAILED' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
