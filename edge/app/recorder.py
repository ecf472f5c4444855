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
import threading
import time
from collections import deque
from collections.abc import Callable

from edge.app.mqtt import Publisher
from edge.app.verdict_job import Job, order_put, retryable, verdict_job, write_snapshot
from edge.pipeline.camera import CameraPipeline
from edge.pipeline.verdicts import Verdict
from edge.store.snapshots import SnapshotWriter
from edge.store.store import Store
from orders.models import Order
from orders.registry import ClosedOrder

log = logging.getLogger("traycheck.recorder")

MAX_PENDING = 10_000  # verdicts kept in memory while storage fails (hours of a busy station)
MAX_CROPS = 100  # zone crops waiting for their snapshot; beyond it a verdict goes without one
RETRY_MAX_S = 5.0  # longest wait between two tries of a failing storage
GIVE_UP_TRIES = 5  # tries of an error that is not about the disk (a bug) before the verdict is set aside
class Recorder:
    """Stores verdicts in order from its own thread; see the module docstring."""

    def __init__(self, store: Store, snapshots: SnapshotWriter | None, publisher: Publisher | None, run_id: str,
                 max_pending: int = MAX_PENDING, retry_max_s: float = RETRY_MAX_S,
                 on_problem: Callable[[str | None], None] | None = None):
        self.store = store
        self.snapshots = snapshots
        self.publisher = publisher
        self.run_id = run_id  # stored with every verdict: which run of the box made it
        self.max_pending = max_pending
        self.retry_max_s = retry_max_s
        self.on_problem = on_problem  # called (from the writer thread) when ``problem`` changes
        self.stored = 0  # verdicts written by this recorder
        self.dropped = 0  # verdicts refused because the memory queue was full (logged)
        self.set_aside = 0  # verdicts given up on an error that is not about the disk (logged in full)
        self._problem: str | None = None
        self._queue: deque[Job] = deque()
        self._to_snap: deque[Job] = deque()
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
        job = verdict_job(v, pipe, with_snapshot=self.snapshots is not None)
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
        self._order_write(order_put(self.store, order, camera, source), f"order {order.id} ({source})")

    def _order_write(self, write: Callable[[], bool], what: str) -> None:
        with self._cond:
            if self._closing:
                log.error("%s came after the recorder closed, not stored", what)
                return
            self._queue.append(Job({}, write, what))
            self._cond.notify()

    def _write(self, job: Job) -> bool:
        """Store one job; True when it wrote something new."""
        if job.write is not None:
            return job.write()
        return self.store.record_verdict(job.record, run=self.run_id, snapshot=job.snapshot, boxes=job.boxes)

    # -- the writer thread ---------------------------------------------------------------
    def _run(self) -> None:
        """Store the head of the queue until it is stored or set aside, then the next; retry the disk's
        errors with capped backoff, give up on another error after ``GIVE_UP_TRIES`` tries."""
        delay, tries = 0.0, 0
        while (head := self._next_job()) is not None:
            try:
                if self._write(head) and head.write is None:
                    self.stored += 1
            except Exception as exc:  # noqa: BLE001 - nothing may kill the writer: the verdicts wait in it
                tries += 1
                if retryable(exc) or tries < GIVE_UP_TRIES:
                    self._fail(exc)
                    delay = min(self.retry_max_s, max(0.1, delay * 2))
                    self._pause(delay)
                    continue
                self._set_aside(head, tries)
            else:
                self._stored(head)
            delay, tries = 0.0, 0

    def _next_job(self) -> Job | None:
        """Wait for work; the queue's head (None: closing), once the waiting snapshots are written (each
        frees its crop, so a storage outage holds no images)."""
        with self._cond:
            while not self._queue and not self._closing:
                self._cond.wait()
            if self._abort or not self._queue:
                return None
            head = self._queue[0]
            snaps = list(self._to_snap)
            self._to_snap.clear()
        if self.snapshots is not None:
            for job in snaps:
                write_snapshot(job, self.snapshots)
        return head

    def _pause(self, delay: float) -> None:
        """The backoff between two tries (cut short by an aborting close)."""
        with self._cond:
            if not self._abort:
                self._cond.wait(delay)

    def _stored(self, head: Job) -> None:
        """A job stored: the queue moves on, a storage problem is over, the publisher has news."""
        self._done(head)
        if self._problem is not None:
            log.warning("storage works again: the verdicts kept in memory are being stored (%d waiting)",
                        self.pending)
            self._set_problem(None)
        if self.publisher is not None:
            self.publisher.notify()

    def _set_aside(self, head: Job, tries: int) -> None:
        """Give up on a job whose error is not the disk's (logged in full, with the traceback)."""
        what = head.what or f"verdict {head.record.get('id')}"
        log.exception("%s set aside after %d tries (not a storage fault): %s", what, tries, json.dumps(head.record))
        self.set_aside += 1
        self._done(head)
        if self._problem is not None:  # the queue moves on: what holds it back is gone
            self._set_problem(None)

    def _done(self, job: Job) -> None:
        with self._cond:
            if self._queue and self._queue[0] is job:
                self._queue.popleft()
            if not self._queue:
                self._overflowing = False
            self._cond.notify_all()

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
