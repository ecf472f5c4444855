"""A camera's health as an operator reads it: ``ok``, ``reconnecting`` or ``failed``, with
the reason and since when.

The source that knows (a file source's opener, a live source's reader thread) reports
what happens; readers (``/readyz``, ``/metrics``, the system page, ``doctor``) take a
snapshot. A fault streak is logged once when it starts, once when it turns into
``failed`` and once when frames come back, never once per retry.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("traycheck.camera")

OK, RECONNECTING, FAILED = "ok", "reconnecting", "failed"
NOT_OPENED = "not opened yet"  # the reason of a camera that has not delivered its first frame
STATES = (OK, RECONNECTING, FAILED)


def redact(url: str) -> str:
    """``url`` without its password: reasons are shown on /readyz and the system page."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.password:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class CameraState:
    """Thread-safe state of one camera. A fault lasting ``fail_after_s`` turns
    ``reconnecting`` into ``failed`` (retries go on; only the label says it is not a blip)."""

    def __init__(self, name: str, fail_after_s: float = 30.0, quiet: bool = False):
        self.name = name
        self.quiet = quiet  # doctor: the table says it, the log need not
        self.fail_after_s = fail_after_s
        self._lock = threading.Lock()
        self._state = RECONNECTING
        self._reason: str | None = NOT_OPENED
        self._since = time.monotonic()
        self._since_wall = time.time()
        self._failed_logged = False
        self._streak = False  # a fault has been logged and frames have not come back since
        self.outages = 0  # times an ok camera was lost
        self.history: deque[tuple[str, str | None, float]] = deque(maxlen=50)  # (state, reason, wall time)
        self.history.append((self._state, self._reason, self._since_wall))

    def _set(self, state: str, reason: str | None) -> None:
        self._state, self._reason = state, reason
        self._since, self._since_wall = time.monotonic(), time.time()
        self.history.append((state, reason, self._since_wall))

    def ok(self) -> None:
        """Frames arrive."""
        with self._lock:
            if self._state == OK:
                return
            was_down = time.monotonic() - self._since
            if self._streak and not self.quiet:
                log.warning("camera %s: frames again after %.1f s", self.name, was_down)
            self._streak = False
            self._failed_logged = False
            self._set(OK, None)

    def trouble(self, reason: str) -> None:
        """The source cannot deliver frames now (and will be tried again)."""
        with self._lock:
            if self._state == OK:
                self.outages += 1
                self._set(RECONNECTING, reason)
            else:
                self._reason = reason  # the latest reason, same streak and since-when
            if not self._streak:
                self._streak = True
                if not self.quiet:
                    log.warning("camera %s: %s; trying again until it is back", self.name, reason)

    def snapshot(self) -> dict:
        """{"state", "reason", "since" (ISO UTC), "for_s"} of this moment."""
        with self._lock:
            now = time.monotonic()
            state = self._state
            if state == RECONNECTING and now - self._since >= self.fail_after_s:
                state = FAILED
                if not self._failed_logged and not self.quiet:
                    self._failed_logged = True
                    log.error("camera %s: still no frames after %.0f s: %s", self.name, now - self._since,
                              self._reason)
            return {"state": state, "reason": self._reason,
                    "since": datetime.fromtimestamp(self._since_wall, timezone.utc).isoformat(timespec="seconds"),
                    "for_s": round(now - self._since, 1)}

    @property
    def raw(self) -> str:
        """What the source last reported (ok or reconnecting), without the failed escalation."""
        return self._state
