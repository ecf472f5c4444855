"""The one per-frame loop: every runner (the service's cameras, replay, the bench rows)
feeds its pipeline through ``FrameLoop``, so what is measured and replayed is what runs.

Per frame: the runner's ``before`` hook (a replay's POS script hands over the orders
due by this stream time), the pipeline, then ``after`` (progress, annotated video,
lag bookkeeping) with the pipeline's time for this frame. Stream time must go
forward: a frame that goes back is skipped and logged (the sources rebase their
clocks after a reconnect, so it is never expected).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from edge.sources.frame import Frame

log = logging.getLogger("traycheck.pipeline")

FAIL_AFTER = 5  # frames failing in a row before the camera says ``failed`` (one bad frame is a blip)


class FrameSink(Protocol):
    """What a frame loop feeds: the camera pipeline (``edge.pipeline.camera.CameraPipeline``)."""

    def process(self, frame: Frame) -> object: ...


class FrameLoop:
    def __init__(self, sink: FrameSink, name: str = "", *, before: Callable[[Frame], None] | None = None,
                 after: Callable[[Frame, float], None] | None = None, raise_errors: bool = True):
        """``raise_errors=False`` (a camera of the service): a frame the pipeline fails on is counted
        and logged once per streak, and the loop goes on; True (replay, bench): the error ends the run."""
        self.sink = sink
        self.name = name
        self.before = before
        self.after = after
        self.raise_errors = raise_errors
        self.frames = 0
        self.failed_frames = 0  # frames the pipeline raised on, in all
        self.last_t: float | None = None  # stream time of the last frame fed
        self.last_progress = time.monotonic()  # when the last frame was done
        self.busy_since: float | None = None  # monotonic start of the frame being processed
        self._streak = 0  # frames failing in a row
        self._failure: str | None = None  # the one-line reason of the streak's latest failure
        self._failing_since: float | None = None  # monotonic time of the streak's first failure

    @property
    def failing(self) -> tuple[str, float] | None:
        """(one-line reason, monotonic since) while the pipeline has failed ``FAIL_AFTER`` frames or
        more in a row; None once a frame passes again. Health reads it (camera state ``failed``)."""
        reason, since = self._failure, self._failing_since
        if self._streak < FAIL_AFTER or reason is None or since is None:
            return None
        return reason, since

    def run(self, frames: Iterable[Frame], stop: threading.Event | None = None,
            until: Callable[[], bool] | None = None) -> None:
        """Feed ``frames`` until they end, ``stop`` is set or ``until()`` says so."""
        for frame in frames:
            if stop is not None and stop.is_set():
                return
            self.step(frame)
            if until is not None and until():
                return

    def step(self, frame: Frame) -> None:
        if self.last_t is not None and frame.t <= self.last_t:  # never expected: the sources rebase
            log.error("%s: stream time went back (%.3f after %.3f); frame skipped", self.name, frame.t, self.last_t)
            return
        if self.before is not None:
            self.before(frame)
        self.busy_since = t0 = time.monotonic()
        try:
            self.sink.process(frame)
            if self._streak:
                log.warning("%s: frames processed again after %d failed", self.name, self._streak)
                self._streak, self._failure, self._failing_since = 0, None, None
        except Exception as exc:  # one bad frame must not end a camera; a streak is logged once
            if self.raise_errors:
                raise
            self._streak += 1
            self.failed_frames += 1
            self._failure = f"the pipeline fails on every frame ({type(exc).__name__}: {_one_line(exc)})"
            if self._streak == 1:
                self._failing_since = t0
                log.exception("%s: frame %d failed (further failures in a row are counted)", self.name, frame.index)
        finally:
            self.busy_since = None
        took = time.monotonic() - t0
        if self.after is not None:
            self.after(frame, took)
        self.frames += 1
        self.last_t = frame.t
        self.last_progress = time.monotonic()


def _one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or "no message"
    return text if len(text) <= limit else text[: limit - 1] + "…"
