"""What happens to a verdict on the box: a snapshot of the zone (the clean crop, with the
detector's boxes kept beside it in the database), one database transaction (tray,
verdict, alert, outbox), and a nudge to the MQTT publisher.

Store first, never drop: the camera thread only hands the verdict over (a memory
queue, never a disk write, never an exception); one writer thread stores verdicts
in the order they were made and retries a storage error (a full disk, a read-only
file system, a locked database) with capped backoff until it succeeds. While it
fails, :attr:`Recorder.problem` says why (readiness, metrics, the dashboard and the
MQTT status read it). A snapshot that cannot be written never holds a verdict back:
the verdict is stored without it.

The same thread writes the order transitions that have no verdict of their own (an
order expired, set aside, or served by an earlier tray under another id), in order
with the verdicts: a camera thread never waits on the database.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from edge.app.mqtt import Publisher
from edge.pipeline.camera import CameraPipeline
from edge.pipeline.verdicts import Verdict
from edge.store.snapshots import SnapshotWriter, zone_boxes
from edge.store.store import OrderClosed, Store
from orders.models import Order
from orders.registry import ClosedOrder

log = logging.getLogger("traycheck.recorder")

MAX_PENDING = 10_000  # verdicts kept in memory while storage fails (hours of a busy station)
MAX_CROPS = 100  # zone crops waiting for their snapshot; beyond it a verdict goes without one
RETRY_MAX_S = 5.0  # longest wait between two tries of a failing storage
GIVE_UP_TRIES = 5  # tries of an error that is not about the disk (a bug) before the verdict is set aside
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
class _Job:
    record: dict  # a verdict's record ({} for an order write)
    write: Callable[[], bool] | None = None  # an order write without a verdict (a transition, an order in)
    what: str = ""  # that write, for the log
    crop: np.ndarray | None = None  # the zone crop, until its snapshot is written (or fails)
    boxes: dict | None = None
    day: str = ""
    snapshot: str | None = None


class Recorder:
    """Stores verdicts in order from its own thread; see the module docstring."""

    def __init__(self, store: Store, snapshots: SnapshotWriter | None, publisher: Publisher | None, run: str,
                 max_pending: int = MAX_PENDING, retry_max_s: float = RETRY_MAX_S,
                 on_problem: Callable[[str | None], None] | None = None):
        self.store = store
        self.snapshots = snapshots
        self.publisher = publisher
        self.run = run
        self.max_pending = max_pending
        self.retry_max_s = retry_max_s
        self.on_problem = on_problem  # called (from the writer thread) when ``problem`` changes
        self.stored = 0  # verdicts written by this recorder
        self.dropped = 0  # verdicts refused because the memory queue was full (logged)
        self.set_aside = 0  # verdicts given up on an error that is not about the disk (logged in full)
        self._problem: str | None = None
        self._queue: deque[_Job] = deque()
        self._to_snap: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._abort = False
        self._overflowing = False
        self._thread = threading.Thread(target=self._run, name="verdict-writer", daemon=True)
        self._thread.start()

    # -- state ---------------------------------------------------------------------
    @property
    def problem(self) -> str | None:
        """Why verdicts cannot be stored right now (the ``storage`` health problem), or None. A full
        memory queue is part of it: verdicts being dropped is never silent."""
        if self._overflowing:
            full = f"the memory queue is full ({self.max_pending}): {self.dropped} verdicts dropped"
            return f"{self._problem}; {full}" if self._problem else full
        return self._problem

    @property
    def pending(self) -> int:
        """Verdicts made but not stored yet."""
        with self._cond:
            return len(self._queue)

    # -- the camera thread -----------------------------------------------------------
    def __call__(self, v: Verdict, pipe: CameraPipeline) -> None:
        """Hand a verdict over: memory only, returns at once, never raises for storage."""
        job = _Job(v.record())
        frame, dets = pipe.evidence()  # the frame whose boxes add up to what the verdict counted
        if self.snapshots is not None and frame is not None:
            h, w = frame.image.shape[:2]
            x0, y0, x1, y1 = pipe.zone.bbox(w, h)
            zone = (max(x0, 0), max(y0, 0), min(x1, w), min(y1, h))
            job.day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            job.boxes = zone_boxes(dets, zone, pipe.classes, model_name(pipe.detector))
            job.crop = frame.image[zone[1]:zone[3], zone[0]:zone[2]].copy()
        with self._cond:
            if self._closing:
                log.error("verdict %s made after the recorder closed, not stored: %s", v.id, json.dumps(job.record))
                return
            if len(self._queue) >= self.max_pending:
                self.dropped += 1  # the oldest are kept: they are the ones the staff saw first
                if not self._overflowing:
                    self._overflowing = True
                    log.error("storage: %d verdicts waiting, the memory queue is full: newer verdicts are "
                              "dropped (counted in traycheck_verdicts_dropped) until storage works again",
                              len(self._queue))
                return
            if job.crop is not None:
                if len(self._to_snap) < MAX_CROPS:
                    self._to_snap.append(job)
                else:
                    job.crop, job.boxes = None, None  # snapshots are far behind: memory before pictures
            self._queue.append(job)
            self._cond.notify()

    def close_order(self, closed: ClosedOrder) -> None:
        """Hand over an order transition without a verdict (expired, set aside, served by an earlier
        tray): memory only, stored in order with the verdicts."""
        self._order_write(lambda: self.store.close_order(closed.order.id, closed.reason, closed.status),
                          f"order {closed.order.id} {closed.status} ({closed.reason})")

    def store_order(self, order: Order, camera: str | None, source: str) -> None:
        """Store an order that could not be stored when it came (a replay's POS script on a full disk):
        in order with the verdicts, retried like them. One the box closed meanwhile stays closed."""
        def put() -> bool:
            try:
                return self.store.put_order(order, camera, source)
            except OrderClosed as exc:
                log.warning("%s", exc)
                return False

        self._order_write(put, f"order {order.id} ({source})")

    def _order_write(self, write: Callable[[], bool], what: str) -> None:
        with self._cond:
            if self._closing:
                log.error("%s came after the recorder closed, not stored", what)
                return
            self._queue.append(_Job({}, write, what))
            self._cond.notify()

    def _write(self, job: _Job) -> bool:
        """Store one job; True when it wrote something new."""
        if job.write is not None:
            return job.write()
        return self.store.record_verdict(job.record, run=self.run, snapshot=job.snapshot, boxes=job.boxes)

    # -- the writer thread ---------------------------------------------------------------
    def _run(self) -> None:
        delay, tries = 0.0, 0
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if self._abort or not self._queue:
                    return
                head = self._queue[0]
                snaps = list(self._to_snap)
                self._to_snap.clear()
            for job in snaps:  # snapshots first (each frees its crop), so a storage outage holds no images
                self._snapshot(job)
            try:
                if self._write(head) and head.write is None:
                    self.stored += 1
            except Exception as exc:  # noqa: BLE001 - nothing may kill the writer: the verdicts wait in it
                tries += 1
                if not retryable(exc) and tries >= GIVE_UP_TRIES:
                    what = head.what or f"verdict {head.record.get('id')}"
                    log.exception("%s set aside after %d tries (not a storage fault): %s", what, tries,
                                  json.dumps(head.record))
                    self.set_aside += 1
                    self._done(head)
                    delay, tries = 0.0, 0
                    if self._problem is not None:  # the queue moves on: what holds it back is gone
                        self._set_problem(None)
                    continue
                self._fail(exc)
                delay = min(self.retry_max_s, max(0.1, delay * 2))
                with self._cond:
                    if not self._abort:
                        self._cond.wait(delay)
                continue
            self._done(head)
            delay, tries = 0.0, 0
            if self._problem is not None:
                log.warning("storage works again: the verdicts kept in memory are being stored (%d waiting)",
                            self.pending)
                self._set_problem(None)
            if self.publisher is not None:
                self.publisher.notify()

    def _done(self, job: _Job) -> None:
        with self._cond:
            if self._queue and self._queue[0] is job:
                self._queue.popleft()
            if not self._queue:
                self._overflowing = False
            self._cond.notify_all()

    def _snapshot(self, job: _Job) -> None:
        crop, job.crop = job.crop, None
        if crop is None or self.snapshots is None:
            return
        h, w = crop.shape[:2]
        job.snapshot = self.snapshots.write(job.record["id"], crop, (0, 0, w, h), job.day)
        if job.snapshot is None:
            job.boxes = None  # the boxes belong to a snapshot (the writer logged why there is none)

    def _fail(self, exc: BaseException) -> None:
        reason = f"verdicts cannot be stored: {exc}"
        if reason != self._problem:
            log.error("storage: %s (%s); %d verdicts kept in memory, retrying every %.0f s at most", reason,
                      type(exc).__name__, self.pending, self.retry_max_s)
            self._set_problem(reason)

    def _set_problem(self, problem: str | None) -> None:
        self._problem = problem
        if self.on_problem is not None:
            try:
                self.on_problem(problem)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the writer
                log.exception("storage problem listener failed")

    # -- shutdown --------------------------------------------------------------------
    def flush(self, timeout: float) -> bool:
        """Wait until every verdict handed over so far is stored; False if time ran out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def close(self, timeout: float = 10.0) -> bool:
        """Store what is waiting (up to ``timeout`` s) and stop the writer. Verdicts still unstored
        then are written to the log in full (the journal keeps them); False in that case."""
        ok = self.flush(timeout)
        with self._cond:
            self._closing = True
            if not ok:
                self._abort = True
            left = list(self._queue)
            self._cond.notify_all()
        self._thread.join(timeout=max(1.0, self.retry_max_s))
        if not ok and left:
            log.error("storage: %d verdicts could not be stored before shutdown (%s); their records follow",
                      len(left), self._problem or "timed out")
            for job in left:
                log.error("unstored verdict: %s", json.dumps(job.record))
        return ok
