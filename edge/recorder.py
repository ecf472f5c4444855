"""What happens to a verdict on the box: a snapshot of the zone (the clean crop, with the
detector's boxes kept beside it in the database), one database transaction (tray,
verdict, alert, outbox), and a nudge to the MQTT publisher."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from edge.mqtt import Publisher
from edge.pipeline import CameraPipeline
from edge.store.snapshots import SnapshotWriter, zone_boxes
from edge.store.store import Store
from edge.verdicts import Verdict


def model_name(detector: object) -> str | None:
    """The model file a detector runs (stored with its boxes: class lists change between models)."""
    path = getattr(detector, "path", None)
    return Path(path).name if path else None


class Recorder:
    def __init__(self, store: Store, snapshots: SnapshotWriter | None, publisher: Publisher | None, run: str):
        self.store = store
        self.snapshots = snapshots
        self.publisher = publisher
        self.run = run
        self.stored = 0

    def __call__(self, v: Verdict, pipe: CameraPipeline) -> None:
        snap, boxes = None, None
        frame = pipe.last_frame
        if self.snapshots is not None and frame is not None:
            h, w = frame.image.shape[:2]
            x0, y0, x1, y1 = pipe.zone.bbox(w, h)
            zone = (max(x0, 0), max(y0, 0), min(x1, w), min(y1, h))
            day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            snap = self.snapshots.write(v.id, frame.image, zone, day)
            if snap is not None:
                boxes = zone_boxes(pipe.last_detections, zone, pipe.classes, model_name(pipe.detector))
        if self.store.record_verdict(v.record(), run=self.run, snapshot=snap, boxes=boxes):
            self.stored += 1
        if self.publisher is not None:
            self.publisher.notify()
