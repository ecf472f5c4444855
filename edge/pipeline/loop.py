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
                self._streak = 0
        except Exception:  # one bad frame must not end a camera; a streak is logged once
            if self.raise_errors:
                raise
            self._streak += 1
            self.failed_frames += 1
            if self._streak == 1:
                log.exception("%s: frame %d failed (further failures in a row are counted)", self.name, frame.index)
        finally:
            self.busy_since = None
        took = time.monotonic() - t0
        if self.after is not None:
            self.after(frame, took)
        self.frames += 1
        self.last_t = frame.t
        self.last_progress = time.monotonic()
