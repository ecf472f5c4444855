"""One unit of the verdict writer's work (``edge.app.recorder``): a verdict with its evidence (the
zone crop and the detector's boxes, until the snapshot is written), or an order write without a
verdict; and which storage errors are worth waiting out."""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from edge.pipeline.camera import CameraPipeline
from edge.pipeline.verdicts import Verdict
from edge.store.snapshots import SnapshotWriter, zone_boxes
from edge.store.store import OrderClosed, Store
from orders.models import Order

log = logging.getLogger("traycheck.recorder")

DISK_WORDS = ("full", "disk", "i/o", "readonly", "read-only", "locked", "busy", "unable to open")


def retryable(exc: BaseException) -> bool:
    """Whether a storage error is the disk's (full, read-only, locked, I/O: it may come back, so wait and
    retry) rather than the program's or the schema's (``no such column``: retrying cannot help)."""
    if isinstance(exc, OSError):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return any(w in text for w in DISK_WORDS)
    return False


def model_name(detector: object) -> str | None:
    """The model file a detector runs (stored with its boxes: class lists change between models)."""
    path = getattr(detector, "path", None)
    return Path(path).name if path else None


@dataclass
class Job:
    """What the writer stores, in the order handed over (see the module docstring)."""

    record: dict  # a verdict's record ({} for an order write)
    write: Callable[[], bool] | None = None  # an order write without a verdict (a transition, an order in)
    what: str = ""  # that write, for the log
    crop: np.ndarray | None = None  # the zone crop, until its snapshot is written (or fails)
    boxes: dict | None = None
    day: str = ""
    snapshot: str | None = None


def verdict_job(v: Verdict, pipe: CameraPipeline, with_snapshot: bool) -> Job:
    """A verdict's job; ``with_snapshot``: its zone crop and boxes kept from the frame whose boxes add
    up to what the verdict counted (copied: the camera thread moves on to the next frame)."""
    job = Job(v.record())
    frame, dets = pipe.evidence()
    if with_snapshot and frame is not None:
        h, w = frame.image.shape[:2]
        x0, y0, x1, y1 = pipe.zone.bbox(w, h)
        zone = (max(x0, 0), max(y0, 0), min(x1, w), min(y1, h))
        job.day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        job.boxes = zone_boxes(dets, zone, pipe.classes, model_name(pipe.detector))
        job.crop = frame.image[zone[1]:zone[3], zone[0]:zone[2]].copy()
    return job


def write_snapshot(job: Job, snapshots: SnapshotWriter) -> None:
    """The job's crop to disk (and dropped from memory either way); without a snapshot the boxes go too."""
    crop, job.crop = job.crop, None
    if crop is None:
        return
    h, w = crop.shape[:2]
    job.snapshot = snapshots.write(job.record["id"], crop, (0, 0, w, h), job.day)
    if job.snapshot is None:
        job.boxes = None  # the boxes belong to a snapshot (the writer logged why there is none)


def order_put(store: Store, order: Order, camera: str | None, source: str) -> Callable[[], bool]:
    """The late write of an order that could not be stored when it came; one the box closed meanwhile
    stays closed (logged, nothing written)."""
    def put() -> bool:
        try:
            return store.put_order(order, camera, source)
        except OrderClosed as exc:
            log.warning("%s", exc)
            return False
    return put
