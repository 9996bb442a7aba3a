"""A peer's missing sequence numbers (spec §6.2), bounded the way Heartbeat 3.0.6 bounds them, and the
retransmission requests made from them.

Bounds (heartbeat 3.0.6, include/heartbeat.h and heartbeat/heartbeat.c):
* MAX_MISSING: `struct seqtrack` holds `seqmissing[MAXMISSING]`, MAXMISSING = MAXMSGHIST = 500, and
  should_drop_message() records at most MAXMISSING-1 of them, replacing the lowest when full. Here the
  oldest recorded one is dropped (the lowest: seqs are recorded in increasing order between resets).
* GAP_RESET: FLOWCONTROL_LIMIT = MAXMSGHIST/2; a bigger gap resets the tracking ("lost a lot of packets!").
* MAX_REXMIT_BATCH: process_rexmit() re-sends at most 50 packets per request.
* Requests: check_rexmit_reqs() asks at most once per max_rexmit_delay per node, one request per missing
  seq (up to 499 datagrams a round). Here contiguous seqs share one request (firstseq..lastseq, at most
  MAX_REXMIT_BATCH wide, which a 3.0.6 peer answers in full) and a round sends at most
  MAX_REQUESTS_PER_ROUND of them: at most 500 seqs asked for per round, in at most 10 datagrams.
"""

from __future__ import annotations

from collections.abc import Callable

MAX_MISSING = 499
GAP_RESET = 250
MAX_REXMIT_BATCH = 50
MAX_REQUESTS_PER_ROUND = 10


def add_missing(missing: dict[int, float], first: int, last: int, due: Callable[[], float]) -> int:
    """Record first..last as missing (each asked for at `due()`); returns how many older entries were
    dropped to stay within MAX_MISSING. Callers reset tracking on gaps above GAP_RESET, so this loop is
    short; the bound holds anyway."""
    dropped = 0
    if last - first + 1 > MAX_MISSING:
        first = last - MAX_MISSING + 1
    for seq in range(first, last + 1):
        if seq in missing:
            continue
        while len(missing) >= MAX_MISSING:
            missing.pop(next(iter(missing)))
            dropped += 1
        missing[seq] = due()
    return dropped


def due_ranges(missing: dict[int, float], now: float) -> list[tuple[int, int]]:
    """Contiguous runs of due seqs, lowest first, each at most MAX_REXMIT_BATCH long, at most
    MAX_REQUESTS_PER_ROUND runs."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(s for s, when in missing.items() if when <= now):
        if ranges and seq == ranges[-1][1] + 1 and seq - ranges[-1][0] < MAX_REXMIT_BATCH:
            ranges[-1] = (ranges[-1][0], seq)
        elif len(ranges) < MAX_REQUESTS_PER_ROUND:
            ranges.append((seq, seq))
        else:
            break
    return ranges
