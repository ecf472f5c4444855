"""Log lines a client can trigger at will, bounded: one line per streak, or one per minute per kind.

A flood of connections must not become a flood of log lines: under file exhaustion
asyncio logged a traceback per failed ``accept()`` (168 MB in 35 s), and uvicorn logs
a warning per malformed request.
"""
from __future__ import annotations

import logging
import time


class Streak:
    """A condition that may repeat thousands of times a second: a line when it starts, a line with the
    count when it ends, nothing in between. It ends at a ``clear`` at least ``quiet_s`` after the last
    ``hit``, so a condition that flickers on and off still makes at most two lines per ``quiet_s``."""

    def __init__(self, log: logging.Logger, started: str, ended: str, quiet_s: float = 10.0):
        self.log, self.started, self.ended, self.quiet_s = log, started, ended, quiet_s
        self.count, self.last = 0, 0.0

    def hit(self, detail: object = "") -> None:
        """Once more; logged only the first time of a streak."""
        self.count += 1
        self.last = time.monotonic()
        if self.count == 1:
            self.log.warning(self.started, detail)

    def clear(self) -> None:
        """The condition is not met now: the streak ends (one line with the count) if quiet long enough."""
        if self.count and time.monotonic() - self.last >= self.quiet_s:
            self.log.warning(self.ended, self.count)
            self.count = 0


class OncePerMinute(logging.Filter):
    """Lets through the first record of each kind (logger and first line of the message) per ``period_s``;
    the next one let through says how many were dropped meanwhile."""

    def __init__(self, period_s: float = 60.0):
        super().__init__()
        self.period_s = period_s
        self.seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg).split("\n", 1)[0][:120])
        now = time.monotonic()
        last, dropped = self.seen.get(key, (-self.period_s, 0))
        if now - last < self.period_s:
            self.seen[key] = (last, dropped + 1)
            return False
        if len(self.seen) > 1000:  # bounded: forget old kinds
            self.seen.clear()
        self.seen[key] = (now, 0)
        if dropped:
            record.msg = f"{record.msg} ({dropped} more like this in the last {self.period_s:.0f} s not logged)"
        return True


def quieten(*names: str) -> None:
    """Put a ``OncePerMinute`` filter on each named logger (once, however many servers start)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, OncePerMinute) for f in logger.filters):
            logger.addFilter(OncePerMinute())
