"""Seeded, bounded fuzzing of every target (tests/fuzz/targets.py): `make fuzz-quick` runs this file with
10,000 cases per target; `make fuzz` runs tests/fuzz/run.py with 1,000,000.

HAKIT_FUZZ_CASES and HAKIT_FUZZ_SEED change the number of cases and the seed; the time limit per target
is a safety net only (a target that hits it fails: its cases were not all run).
"""

import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import fuzzlib
import targets

CASES = int(os.environ.get("HAKIT_FUZZ_CASES", "10000"))
SEED = int(os.environ.get("HAKIT_FUZZ_SEED", "8"))
TIME_LIMIT_S = float(os.environ.get("HAKIT_FUZZ_TIME_LIMIT", "300"))


@pytest.mark.parametrize("name", targets.TARGETS)
def test_target_raises_nothing_unexpected(name):
    target, generate = targets.build(name)
    report = fuzzlib.run(name, target, generate, CASES, SEED, TIME_LIMIT_S)
    print(report.summary())
    details = "\n".join(f.trace for f in report.findings.values())
    assert not report.findings, f"{report.summary()}\n{details}"
    assert report.cases == CASES, f"time limit reached after {report.cases} cases"


def test_the_fuzzer_finds_a_planted_crash():
    """The harness itself: a target that raises on some inputs is reported, once per site."""

    def target(data):
        if b"\xff" in data:
            raise ValueError("planted")

    report = fuzzlib.run("planted", target, targets.mutating([b"abc"]), 2000, 1, 60)
    assert len(report.findings) == 1
    key, finding = next(iter(report.findings.items()))
    assert key[0] == "ValueError" and finding.count > 1 and b"\xff" in finding.example
