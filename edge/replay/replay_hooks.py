"""The pieces both replay engines hang on a frame loop: the POS script, the health log, the
per-frame figures, and what a replay returns."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge.pipeline.camera import CameraPipeline
from edge.replay.video import ReplayVideo
from edge.sources.capture import Frame
from edge.sources.shift_files import PosEvent


@dataclass
class ReplayResult:
    verdicts: list[dict]
    frames: int
    detected_frames: int
    unchecked: int
    seconds: float
    frame_ms: list[float]  # pipeline time per frame (decoding not included)
    health: list[dict] = field(default_factory=list)  # camera health changes, the first state included
    dropped: int = 0  # late frames skipped (``drop_late``)


class HealthLog:
    """The ``--health FILE.jsonl`` of a replay: one line per change of a camera's health (the
    interface's change object), written as it happens so a long replay can be watched."""

    def __init__(self, path: Path | None):
        self.changes: list[dict] = []
        self.file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = path.open("w")

    def __call__(self, change: dict) -> None:
        self.changes.append(change)
        if self.file is not None:
            self.file.write(json.dumps(change) + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class PosScript:
    """A recorded shift's POS: hands each order over when the stream reaches its time (the
    ``before`` hook of the frame loop)."""

    def __init__(self, events: list[PosEvent], hand_over: Callable[[PosEvent], object]):
        self.events = events
        self.hand_over = hand_over
        self.next = 0

    def __call__(self, frame: Frame) -> None:
        while self.next < len(self.events) and self.events[self.next].t <= frame.t:
            self.hand_over(self.events[self.next])
            self.next += 1


def replay_after(frame_ms: list[float], video: ReplayVideo | None, pipe: CameraPipeline,
                 advance: Callable[[int], None] | None) -> Callable[[Frame, float], None]:
    """The ``after`` hook of a replay's frame loop: pipeline time, the annotated video, progress."""
    def after(frame: Frame, seconds: float) -> None:
        frame_ms.append(seconds * 1000)
        if video is not None:
            video(frame, pipe)
        if advance is not None:
            advance(1)
    return after
