"""Rate limits for what anyone on the LAN can trigger: log lines and answers.

Pure (every call gets `now`), so that the state machines stay testable with a fake clock.

* LogLimiter: per kind of line, the first `burst` lines pass, then one per `interval`; the next line that
  passes says how many were suppressed since the last one. A flood of garbage costs a few lines a
  minute, not one line per packet, and nothing is hidden: the counts are there.
* Budget: at most `limit` units per `window` seconds per key (answers to retransmission requests).
"""

from __future__ import annotations

from dataclasses import dataclass

LOG_BURST = 5
LOG_INTERVAL_S = 10.0
MAX_KEYS = 256  # kinds of lines remembered; attacker-chosen keys must not grow memory either


@dataclass
class _Kind:
    window_start: float
    passed: int = 0
    suppressed: int = 0


class LogLimiter:
    def __init__(self, burst: int = LOG_BURST, interval: float = LOG_INTERVAL_S):
        self.burst, self.interval = burst, interval
        self.kinds: dict[object, _Kind] = {}
        self.suppressed_total = 0

    def check(self, key, now: float) -> tuple[bool, int]:
        """(may this line be logged, how many of its kind were suppressed since the last one logged)."""
        kind = self.kinds.get(key)
        if kind is None:
            if len(self.kinds) >= MAX_KEYS:
                self.kinds.pop(next(iter(self.kinds)))
            kind = self.kinds[key] = _Kind(now)
        if now - kind.window_start >= self.interval:
            kind.window_start, kind.passed = now, 0
        if kind.passed < self.burst:
            kind.passed += 1
            suppressed, kind.suppressed = kind.suppressed, 0
            return True, suppressed
        kind.suppressed += 1
        self.suppressed_total += 1
        return False, 0

    def text(self, key, text: str, now: float) -> str | None:
        """`text` (with the count of the suppressed ones) when it may be logged, else None."""
        allowed, suppressed = self.check(key, now)
        if not allowed:
            return None
        if suppressed:
            return f"{text} ({suppressed} similar message(s) suppressed)"
        return text


class Budget:
    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self.used: dict[object, tuple[float, int]] = {}

    def take(self, key, now: float, units: int = 1) -> bool:
        start, used = self.used.get(key, (now, 0))
        if now - start >= self.window or now < start:
            start, used = now, 0
        if used + units > self.limit:
            self.used[key] = (start, used)
            return False
        if key not in self.used and len(self.used) >= MAX_KEYS:
            self.used.pop(next(iter(self.used)))
        self.used[key] = (start, used + units)
        return True
