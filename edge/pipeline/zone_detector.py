"""The detector's share of a frame: whether its boxes would be used at all, and which of them
count as items (above their class's floor, inside the zone, duplicates merged)."""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import numpy as np

from detectors.detections import Detections, Detector, drop_merged
from detectors.zone import Zone
from edge.pipeline.gate import GateReading
from edge.pipeline.params import DEFAULT_MIN_CONFIDENCE, PipelineParams
from edge.pipeline.tray import State, TrayTracker
from edge.sources.capture import Frame


class ZoneDetector:
    """Runs the detector on the frames that need it and keeps the recent evidence (the frames whose
    boxes a verdict counted, for its snapshot)."""

    def __init__(self, zone: Zone, params: PipelineParams):
        self.zone, self.params = zone, params
        self.last: Detections = Detections.empty()  # the boxes the live view shows
        self.frames = 0  # frames the detector ran on
        self.observe_latency: Callable[[float], None] | None = None  # seconds per detector call
        self.recent_ms: deque[float] = deque(maxlen=200)  # for the dashboard's system page
        self._evidence: deque[tuple[Frame, Detections, np.ndarray]] = deque(maxlen=8)

    def needed(self, reading: GateReading, tracker: TrayTracker, frame_no: int) -> bool:
        """Whether this frame's boxes would be used: the detector is most of a camera's cost, and
        with eight busy stations on two cores every call skipped is a frame not dropped."""
        tp = tracker.params
        if not tracker.busy:
            return reading.active(tp.still_motion, tp.presence_on)  # an empty station: only an arrival
        moving = reading.motion >= tp.still_motion
        if moving and reading.presence >= tp.presence_off:
            return False  # moving frames never vote, and the tray is plainly there: only "left?" needs boxes
        if not moving and tracker.state is State.RESTING and tracker.settled \
                and frame_no % self.params.settled_stride:
            return False  # nothing moves on a checked tray: a change shows up as motion first
        return True

    def floor(self, detector: Detector, class_id: np.ndarray) -> np.ndarray | float:
        """The confidence an item needs: the camera's configured one, else the model's own per class
        ('class_conf', chosen for counting at export), else its operating threshold, else the default."""
        if self.params.min_confidence is not None:
            return self.params.min_confidence
        per_class = getattr(detector, "class_conf", None)
        if per_class is not None:
            floors: np.ndarray = np.asarray(per_class)[class_id]
            return floors
        floor: float = getattr(detector, "operating_conf", None) or DEFAULT_MIN_CONFIDENCE
        return floor

    def detect(self, detector: Detector, frame: Frame) -> tuple[np.ndarray, float]:
        """The items on ``frame``: per-class counts and their mean confidence (1.0 for none)."""
        img = frame.image
        h, w = img.shape[:2]
        t0 = time.perf_counter()
        dets = detector.detect(img)
        took = time.perf_counter() - t0
        self.recent_ms.append(took * 1000)
        if self.observe_latency is not None:
            self.observe_latency(took)
        if len(dets):
            counted = dets.confidence >= self.floor(detector, dets.class_id)
            dets = dets[counted & self.zone.contains(dets.center, w, h)]
            dets = drop_merged(dets, self.params.merged_overlap, self.params.cross_class_iou)
        self.last = dets
        self.frames += 1
        counts = dets.counts(len(detector.classes))
        self._evidence.append((frame, dets, counts))
        return counts, float(dets.confidence.mean()) if len(dets) else 1.0

    def evidence(self, want: np.ndarray) -> tuple[Frame, Detections] | None:
        """The newest recent frame whose detections add up to ``want`` (the vote is a median over
        frames, so the latest frame alone may miss a flickering item), else None."""
        for frame, dets, counts in reversed(self._evidence):
            if len(counts) == len(want) and np.array_equal(counts, want):
                return frame, dets
        return None
