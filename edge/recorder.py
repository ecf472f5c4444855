"""What happens to a verdict on the box: a snapshot of the zone, one database
transaction (tray, verdict, alert, outbox), and a nudge to the MQTT publisher."""
from __future__ import annotations

from datetime import datetime, timezone

from edge.mqtt import Publisher
from edge.pipeline import CameraPipeline
from edge.store.snapshots import SnapshotWriter
from edge.store.store import Store
from edge.verdicts import Verdict


class Recorder:
    def __init__(self, store: Store, snapshots: SnapshotWriter | None, publisher: Publisher | None, run: str):
        self.store = store
        self.snapshots = snapshots
        self.publisher = publisher
        self.run = run
        self.stored = 0

    def __call__(self, v: Verdict, pipe: CameraPipeline) -> None:
        snap = None
        frame = pipe.last_frame
        if self.snapshots is not None and frame is not None:
            h, w = frame.image.shape[:2]
            day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            snap = self.snapshots.write(v.id, frame.image, pipe.zone.bbox(w, h), pipe.last_detections,
                                        pipe.classes, day)
        if self.store.record_verdict(v.record(), run=self.run, snapshot=snap):
            self.stored += 1
        if self.publisher is not None:
            self.publisher.notify()
