"""What the dashboard shows of a station: one frame's consistent picture, made by the pipeline
once per frame. Plain data, so the web layer reads it without touching the pipeline's machinery."""
from __future__ import annotations

from dataclasses import dataclass, field

from detectors.detections import Detections
from edge.pipeline.verdicts import Verdict
from edge.sources.frame import Frame
from orders.registry import PendingOrder


@dataclass(frozen=True)
class LiveView:
    """One frame's consistent picture for the dashboard, swapped in whole at the end of each frame:
    a reader (another thread) never pairs one frame with another frame's boxes or tray."""

    frame: Frame | None = None
    detections: Detections = field(default_factory=Detections.empty)
    classes: tuple[str, ...] = ()
    state: str = "empty"
    tray_seq: int | None = None
    order: PendingOrder | None = None
    ticket: str | None = None
    counts: dict[str, int] | None = None
    last_verdict: Verdict | None = None
