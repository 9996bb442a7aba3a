"""A small deterministic mutation fuzzer (no dependency): seeded, bounded in cases and in time.

A target is a function taking one input (bytes, or whatever its generator makes) that returns normally
when the input was handled (accepted or refused the expected way) and raises when it was not: any
exception that escapes it is a finding. Findings are grouped by (exception type, innermost project
frame) so that one bug found 300 times is reported once, with the smallest input that hit it.
"""

from __future__ import annotations

import os
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

# Byte strings worth inserting: the framing of both wire formats, field type tags, the crashers'
# ingredients (digits by the thousand, Unicode digits, binary where text goes), config syntax.
TOKENS = [
    b"###\n", b"%%%\n", b">>>\n", b"<<<\n", b"(0)", b"(1)", b"(2)", b"(3)", b"(4)", b"(5)", b"(9)", b"=",
    b",", b":", b"\n", b"\x13", b"\x14", b"\x15", b"\x00", b"\r", b"\t", b" ", b"#", b"\\", b"::", b"/",
    b"auth=", b"auth 3", b"3 md5 ", b"1 crc", b"2 sha1 ", b"t=", b"src=", b"seq=", b"hg=", b"ts=", b"dt=",
    b"st=", b"dest=", b"firstseq=", b"lastseq=", b"ackseq=", b"_compressed_payload=", b"YWJj", b"YQ==",
    b"0", b"1", b"-1", b"ff", b"ffffffffffffffff", b"18446744073709551616", b"9" * 400, b"9" * 5000,
    b"f" * 5000, b"\xc2\xb2", b"\xd9\xa3", b"\xef\xbc\x91", b"\xff", b"\xc3", b"\xed\xb2\x80", b"\xc2\xa0",
    b"\xe2\x80\xa8", b"\x0c", b"\x0b", b"\x1c", b"\x85", b"1e999", b"nan", b"inf", b".5", b"500ms",
    b"1.", b"0.000001us", b"node ", b"bcast ", b"ucast eth0 ", b"mcast eth0 239.0.0.1 694 1 0",
    b"udpport ", b"keepalive ", b"deadtime ", b"IPaddr::", b"10.0.0.1/24/eth0", b"/33", b"auto_failback ",
    b"make_before_break ", b"allow_crc ",
]  # fmt: skip
INTERESTING_BYTES = [0, 1, 0x7F, 0x80, 0xFF, 0x0A, 0x0D, 0x13, 0x14, 0x20, 0x23, 0x2C, 0x3A, 0x3D, 0xC2, 0xDC]


class Mutator:
    def __init__(self, rng: random.Random, corpus: list[bytes], tokens: list[bytes] | None = None):
        self.rng, self.corpus, self.tokens = rng, corpus, tokens or TOKENS

    def mutate(self, data: bytes, rounds: int | None = None) -> bytes:
        buf = bytearray(data)
        for _round in range(rounds or self.rng.choice((1, 1, 2, 3, 4, 8))):
            self._one(buf)
        return bytes(buf)

    def _pos(self, buf: bytearray, end: bool = False) -> int:
        return self.rng.randint(0, len(buf)) if end or not buf else self.rng.randrange(len(buf))

    def _one(self, buf: bytearray) -> None:
        rng = self.rng
        op = rng.randrange(11)
        if op == 0 and buf:  # flip a bit
            i = self._pos(buf)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:  # an interesting or random byte
            buf[self._pos(buf)] = rng.choice(INTERESTING_BYTES) if rng.random() < 0.6 else rng.randrange(256)
        elif op in (2, 3):  # insert a token
            i = self._pos(buf, end=True)
            buf[i:i] = rng.choice(self.tokens)
        elif op == 4 and buf:  # delete a chunk
            i = self._pos(buf)
            del buf[i : i + rng.randint(1, 32)]
        elif op == 5 and buf:  # duplicate a chunk
            i = self._pos(buf)
            chunk = buf[i : i + rng.randint(1, 64)]
            j = self._pos(buf, end=True)
            buf[j:j] = chunk * rng.choice((1, 2, 16))
        elif op == 6 and self.corpus:  # splice with another input
            other = rng.choice(self.corpus)
            i, j = self._pos(buf, end=True), rng.randint(0, len(other))
            buf[i:] = other[j:]
        elif op == 7 and buf:  # change a decimal number (netstring lengths, seqs, ports)
            digits = [k for k in range(len(buf)) if 0x30 <= buf[k] <= 0x39]
            if digits:
                i = rng.choice(digits)
                buf[i : i + 1] = str(
                    rng.choice((0, 1, 9, 10, 99, 4096, 2**31, 2**64, rng.randrange(100)))
                ).encode()
        elif op == 8 and buf:  # truncate
            del buf[self._pos(buf) :]
        elif op == 9 and buf:  # replace a token by another
            token = rng.choice(self.tokens)
            i = bytes(buf).find(token)
            if i >= 0:
                buf[i : i + len(token)] = rng.choice(self.tokens)
        elif op == 10:  # a line of junk
            i = self._pos(buf, end=True)
            buf[i:i] = bytes(rng.randrange(256) for _round in range(rng.randint(1, 40)))


@dataclass
class Finding:
    key: tuple[str, str]
    count: int
    example: object
    trace: str


@dataclass
class Report:
    target: str
    seed: int
    cases: int = 0
    seconds: float = 0.0
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    timed_out: bool = False

    def summary(self) -> str:
        lines = [f"{self.target}: {self.cases} cases in {self.seconds:.1f} s (seed {self.seed}), "
                 f"{sum(f.count for f in self.findings.values())} unexpected exception(s) at "
                 f"{len(self.findings)} site(s)"]  # fmt: skip
        for finding in self.findings.values():
            lines.append(
                f"  {finding.count}x {finding.key[0]} at {finding.key[1]}; e.g. {finding.example!r:.300}"
            )
        return "\n".join(lines)


def _site(exc: BaseException) -> str:
    """Innermost frame in the project (hbagent/, plugins/), else the innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if "/hbagent/" in frame.filename or "/plugins/" in frame.filename:
            return f"{os.path.basename(frame.filename)}:{frame.lineno} {frame.name}"
    last = frames[-1] if frames else None
    return f"{os.path.basename(last.filename)}:{last.lineno}" if last else "?"


def run(name: str, target: Callable[[object], None], generate: Callable[[random.Random], object], cases: int,
        seed: int, time_limit: float) -> Report:  # fmt: skip
    """`cases` inputs from `generate(rng)` into `target`, or fewer if `time_limit` seconds pass first."""
    rng = random.Random(f"{name}:{seed}")
    report = Report(name, seed)
    start = time.monotonic()
    deadline = start + time_limit
    for i in range(cases):
        if i % 256 == 0 and time.monotonic() > deadline:
            report.timed_out = True
            break
        data = generate(rng)
        try:
            target(data)
        except Exception as exc:
            key = (type(exc).__name__, _site(exc))
            finding = report.findings.get(key)
            size = len(data) if hasattr(data, "__len__") else 0
            if finding is None:
                report.findings[key] = Finding(key, 1, data, traceback.format_exc())
            else:
                finding.count += 1
                if hasattr(finding.example, "__len__") and size < len(finding.example):
                    finding.example = data
        report.cases += 1
    report.seconds = time.monotonic() - start
    return report
