"""One camera's verification pipeline: gate -> detector -> tray tracker -> ticket
and order association -> matching -> verdicts.

Fed one frame at a time (``process``), with POS orders arriving in between
(``queue``). Decisions use stream time only, so a replay at any speed gives
the same verdicts as real time.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable

import numpy as np

from detectors.detections import Detections, Detector, drop_merged
from detectors.tickets import TicketReader
from detectors.zone import Zone
from edge.pipeline.camera_health import CameraHealth
from edge.pipeline.checked_tray import CheckedTray
from edge.pipeline.fifo import close_orders, fifo_candidate, only_close_order, settle_identical
from edge.pipeline.gate import Gate, GateReading
from edge.pipeline.params import DEFAULT_MIN_CONFIDENCE, PipelineParams
from edge.pipeline.tray import State, TrayEvent, TrayEventKind, TrayTracker
from edge.pipeline.verdicts import Association, Verdict, VerdictKind
from edge.pipeline.view import LiveView
from edge.sources.capture import Frame
from orders.matching import match
from orders.menu import Menu
from orders.registry import PendingOrder, StationOrders

log = logging.getLogger("traycheck.pipeline")


class CameraPipeline:
    def __init__(self, camera: str, detector: Detector, menu: Menu, queue: StationOrders,
                 on_verdict: Callable[[Verdict, "CameraPipeline"], None], zone: Zone | None = None,
                 params: PipelineParams = PipelineParams(), run: str = "", health: CameraHealth | None = None):
        """``health``: the camera's health checks (with its stored reference); default: learned afresh."""
        self.camera = camera
        self.run = run
        self.detector = detector
        self.classes = detector.classes
        self.menu = menu
        self.queue = queue
        self.on_verdict = on_verdict
        self.zone = zone or Zone()
        self.params = params
        self.gate = Gate(self.zone)
        self.tracker = TrayTracker(len(self.classes), params.tray)
        self.reader = TicketReader()
        self.tray: CheckedTray | None = None
        self._fifo_taken: dict[str, PendingOrder] = {}  # orders given to trays without a ticket, newest last
        self._passed: dict[str, None] = {}  # orders a ticketless tray was offered and left (fifo_candidate)
        self.seq = 0
        self.unchecked = 0  # trays that left before they could be checked
        self.frames = 0
        self.detected_frames = 0
        self.last_detections: Detections = Detections.empty()
        self.last_frame: Frame | None = None
        self.verdict_counts: dict[str, int] = {}
        self.observe_latency: Callable[[float], None] | None = None  # seconds per detector call
        self.recent_detect_ms: deque[float] = deque(maxlen=200)  # for the dashboard's system page
        self._next_model: tuple[Detector, Menu] | None = None  # a model switch waiting for its frame
        self._switch_lock = threading.Lock()
        self.view = LiveView()  # what the dashboard shows: replaced (never changed) once per frame
        self._evidence: deque[tuple[Frame, Detections, np.ndarray]] = deque(maxlen=8)  # recent detected frames
        self.health = health if health is not None else CameraHealth(camera)

    # -- model switch (SIGHUP) -------------------------------------------------
    def switch_model(self, detector: Detector, menu: Menu) -> None:
        """Use ``detector`` and ``menu`` from the next frame on (called from another thread).

        Same class list: the next frame, trays in view keep their state. Another class list:
        the tracker's count vectors and the tray's counts mean other classes, so the switch
        waits until the station is empty; no tray loses its verdict either way."""
        with self._switch_lock:
            self._next_model = (detector, menu)

    @property
    def switch_pending(self) -> bool:
        return self._next_model is not None

    def _apply_switch(self) -> None:
        with self._switch_lock:
            detector, menu = self._next_model  # type: ignore[misc]
            same = tuple(detector.classes) == tuple(self.classes)
            if not same and (self.tray is not None or self.tracker.state is not State.EMPTY):
                return
            self._next_model = None
        changed, self.detector, self.menu = detector is not self.detector, detector, menu
        if not same:
            self.classes = detector.classes
            self.tracker = TrayTracker(len(self.classes), self.params.tray)
            self.last_detections = Detections.empty()
        if changed:
            log.info("%s: now detecting with %s", self.camera, getattr(detector, "path", detector))

    def _floor(self, class_id: np.ndarray) -> np.ndarray | float:
        """The confidence an item needs: the camera's configured one, else the model's own per class
        ('class_conf', chosen for counting at export), else its operating threshold, else the default."""
        if self.params.min_confidence is not None:
            return self.params.min_confidence
        per_class = getattr(self.detector, "class_conf", None)
        if per_class is not None:
            floors: np.ndarray = np.asarray(per_class)[class_id]
            return floors
        floor: float = getattr(self.detector, "operating_conf", None) or DEFAULT_MIN_CONFIDENCE
        return floor

    # -- per frame ---------------------------------------------------------
    def process(self, frame: Frame) -> None:
        if self._next_model is not None:
            self._apply_switch()
        img = frame.image
        h, w = img.shape[:2]
        self.frames += 1
        previous, self.last_frame = self.last_frame, frame
        reading = self.gate.update(img, station_empty=self.tracker.state is State.EMPTY)
        counts, conf = None, 0.0
        run = self._detector_needed(reading)
        if run:
            t0 = time.perf_counter()
            dets = self.detector.detect(img)
            took = time.perf_counter() - t0
            self.recent_detect_ms.append(took * 1000)
            if self.observe_latency is not None:
                self.observe_latency(took)
            if len(dets):
                dets = dets[(dets.confidence >= self._floor(dets.class_id)) & self.zone.contains(dets.center, w, h)]
                dets = drop_merged(dets, self.params.merged_overlap, self.params.cross_class_iou)
            self.last_detections = dets
            self.detected_frames += 1
            counts = dets.counts(len(self.classes))
            self._evidence.append((frame, dets, counts))
            conf = float(dets.confidence.mean()) if len(dets) else 1.0
        elif not self.tracker.busy or reading.motion >= self.params.tray.still_motion:
            # nothing there, or it moves unseen: the last boxes would be in the wrong place (a skipped
            # frame of a still tray keeps its boxes)
            self.last_detections = Detections.empty()
        for ev in self.tracker.update(frame.t, reading, counts, conf):
            self._on_event(ev, frame)
        tray = self.tray
        if tray is not None and self.tracker.state in (State.ARRIVING, State.RESTING) and tray.ticket is None \
                and tray.ticket_tries < self.params.ticket_tries and self.tracker._still > 0 \
                and self.frames % self.params.ticket_stride == 0:
            tray.ticket_tries += 1
            last = tray.ticket_tries == self.params.ticket_tries
            tray.ticket = self.reader.read(img, self.zone.bbox(w, h), rescue=tray.ticket_tries % 2 == 0 or last)
        if tray is not None and tray.counts is not None and tray.order is None:
            self._associate(frame.t)
        if tray is not None and tray.hold_until is not None and frame.t >= tray.hold_until:
            tray.hold_until = None
            self._decide(frame.t, confirmed=True)
        if frame.t >= self.health.due:  # (once a second: the view is judged while nothing is recognised in the zone)
            idle = not len(self.last_detections) and (self.tray is None or not self.tray.counts) \
                and (run or not self.tracker.busy)  # (a tray moving unseen is not an idle view)
            self.health.observe(frame.t, img, previous.image if previous is not None else None, idle)
        self._publish_view(frame)

    def _detector_needed(self, reading: GateReading) -> bool:
        """Whether this frame's boxes would be used: the detector is most of a camera's cost, and
        with eight busy stations on two cores every call skipped is a frame not dropped."""
        tp = self.params.tray
        if not self.tracker.busy:
            return reading.active(tp.still_motion, tp.presence_on)  # an empty station: only an arrival
        moving = reading.motion >= tp.still_motion
        if moving and reading.presence >= tp.presence_off:
            return False  # moving frames never vote, and the tray is plainly there: only "left?" needs boxes
        if not moving and self.tracker.state is State.RESTING and self.tracker.settled \
                and self.frames % self.params.settled_stride:
            return False  # nothing moves on a checked tray: a change shows up as motion first
        return True

    def evidence(self) -> tuple[Frame | None, Detections]:
        """The frame and boxes that show what the tray's verdict counted: the newest recent frame
        whose detections add up to the tray's counts (the vote is a median over frames, so the
        latest frame alone may miss a flickering item), else the latest frame."""
        tray = self.tray
        if tray is not None and tray.counts is not None:
            want = np.array([tray.counts.get(c, 0) for c in self.classes])
            for frame, dets, counts in reversed(self._evidence):
                if len(counts) == len(want) and np.array_equal(counts, want):
                    return frame, dets
        return self.last_frame, self.last_detections

    def _publish_view(self, frame: Frame) -> None:
        tray = self.tray
        self.view = LiveView(frame, self.last_detections, tuple(self.classes), self.tracker.state.value,
                             tray.seq if tray else None, tray.order if tray else None, tray.ticket if tray else None,
                             tray.counts if tray else None, tray.verdicts[-1] if tray and tray.verdicts else None)

    # -- events --------------------------------------------------------------
    def _on_event(self, ev: TrayEvent, frame: Frame) -> None:
        if ev.kind is TrayEventKind.ARRIVED:
            self.seq += 1
            self.tray = CheckedTray(self.seq)
        elif self.tray is None:
            return
        elif ev.kind is TrayEventKind.REST:
            self.tray.rest_t = ev.t
        elif ev.kind in (TrayEventKind.COUNTS, TrayEventKind.CHANGED):
            assert ev.counts is not None
            self.tray.counts = {self.classes[i]: int(n) for i, n in enumerate(ev.counts) if n > 0}
            self.tray.confidence = ev.confidence
            if self.tray.order is not None:
                self._decide(ev.t)
        elif ev.kind is TrayEventKind.LEFT:
            if self.tray.hold_until is not None:  # a first mismatch still held: the tray's last counts stand
                self._decide(ev.t, confirmed=True)
            tray, self.tray = self.tray, None
            if tray.counts is None:
                self.unchecked += 1
                log.info("%s: tray %d left before it could be checked", self.camera, tray.seq)
            elif tray.order is None and tray.last_verdict is None:
                self._emit(tray, VerdictKind.NO_ORDER, {}, {}, ev.t)

    def _associate(self, t: float) -> None:
        tray = self.tray
        assert tray is not None and tray.rest_t is not None
        if tray.last_verdict is None and t - tray.rest_t >= self.params.no_order_after_s:
            self._emit(tray, VerdictKind.NO_ORDER, {}, {}, t)  # an order that turns up later still gets checked
        if tray.ticket is not None:
            p = self.queue.get(tray.ticket)
            if p is not None and not self._on_menu(p):
                p = None
            if p is None:
                p = self._fifo_taken.pop(tray.ticket, None)  # a ticket beats an earlier guess: reclaim it
                if p is None:
                    return  # the POS has not sent it yet: wait while the tray rests
                log.info("%s: order %s was guessed for an earlier tray; its ticket is here", self.camera, p.order.id)
                self._settle_identical(p)
                self._attach(tray, p)
                tray.association = Association.QR
                self._decide(t)
                return
            tray.association = Association.QR
        else:
            if tray.last_verdict is VerdictKind.NO_ORDER:
                return  # only its ticket may still name an order: a later guess would take another tray's
            waited = t - tray.rest_t
            if waited < self.params.ticket_wait_s and tray.ticket_tries < self.params.ticket_tries:
                return
            p = self._fifo_candidate(tray.counts or {})
            if p is None:
                return
            tray.association = Association.FIFO
            self._fifo_taken[p.order.id] = p
            while len(self._fifo_taken) > 20:
                self._fifo_taken.pop(next(iter(self._fifo_taken)))
        taken = self.queue.take(p.order.id)
        if taken is None:  # another station took it a moment ago: look again on the next frame
            tray.association = None
            self._fifo_taken.pop(p.order.id, None)
            return
        self._attach(tray, taken)
        self._decide(t)

    def _attach(self, tray: CheckedTray, p: PendingOrder) -> None:
        """Check ``tray`` against ``p`` from now on, by the menu of this moment: a reload that drops one
        of its SKUs later must not change (or fail) the verdict of a tray already associated."""
        tray.order, tray.expected = p, self.menu.expected(p.order.lines())

    def _settle_identical(self, reclaimed: PendingOrder) -> None:
        pending = [q for q in self.queue.pending()[: self.params.fifo_window] if self._on_menu(q)]
        taken = settle_identical(self.queue, self.menu, reclaimed, pending)
        if taken is not None:
            self._fifo_taken[taken.order.id] = taken  # its own ticket may still claim it
            log.info("%s: order %s counts as served by the earlier tray (identical to %s)", self.camera,
                     taken.order.id, reclaimed.order.id)

    def _fifo_candidate(self, seen: dict[str, int]) -> PendingOrder | None:
        """The pending order this tray most plausibly belongs to (``fifo_candidate``)."""
        pending = [p for p in self.queue.pending()[: self.params.fifo_window] if self._on_menu(p)]
        passed = {p.order.id for p in pending if p.order.id in self._passed}
        return (fifo_candidate(pending, self.menu, seen, self.params.plausible_errors, passed)
                or only_close_order(pending, self.menu, seen, passed))

    def _pass_over(self, tray: CheckedTray) -> None:
        """A ticketless tray got no order: the pending orders it could have been (sent before it came
        to rest, sharing most of its items) are left behind for later trays (``fifo_candidate``)."""
        if tray.ticket is not None or tray.rest_t is None:
            return
        pending = [p for p in self.queue.pending()[: self.params.fifo_window] if p.received_t <= tray.rest_t]
        for p in close_orders(pending, self.menu, tray.counts or {}):
            self._passed[p.order.id] = None
        while len(self._passed) > 100:
            self._passed.pop(next(iter(self._passed)))

    def _on_menu(self, p: PendingOrder) -> bool:
        """Whether the menu knows every SKU of ``p``; if not, it is set aside (logged once), so an
        order the menu lost on a reload never fails a frame. The registry does this on reload too."""
        if all(sku in self.menu for sku, _ in p.order.lines()):
            return True
        for closed in self.queue.registry.set_aside(self.menu.__contains__):
            log.warning("%s: order %s %s", self.camera, closed.order.id, closed.reason)
        return False

    def _decide(self, t: float, confirmed: bool = False) -> None:
        tray = self.tray
        assert tray is not None and tray.order is not None and tray.counts is not None and tray.expected is not None
        expected = tray.expected
        m = match(expected, tray.counts)
        kind = VerdictKind.OK if m.ok else VerdictKind.MISMATCH
        if kind is VerdictKind.MISMATCH and tray.last_verdict is None and not confirmed and tray.rest_t is not None \
                and t < tray.rest_t + self.params.mismatch_confirm_s:
            tray.hold_until = tray.rest_t + self.params.mismatch_confirm_s  # the counts may still change
            return
        tray.hold_until = None
        if tray.last_verdict is VerdictKind.MISMATCH and m.ok:
            kind = VerdictKind.RESOLVED
        elif tray.last_verdict in (VerdictKind.OK, VerdictKind.RESOLVED) and m.ok:
            return
        elif tray.last_verdict is VerdictKind.MISMATCH and tray.verdicts and \
                (tray.verdicts[-1].missing, tray.verdicts[-1].extra) == (m.missing, m.extra):
            return
        self._emit(tray, kind, m.missing, m.extra, t, dict(sorted(Counter(expected).items())))

    def _emit(self, tray: CheckedTray, kind: VerdictKind, missing: dict[str, int], extra: dict[str, int], t: float,
              expected: dict[str, int] | None = None) -> None:
        v = Verdict(camera=self.camera, order_id=tray.order.order.id if tray.order else None, verdict=kind,
                    missing=missing, extra=extra, video_t=round(t, 3), tray_seq=tray.seq,
                    confidence=tray.confidence, seen=dict(sorted((tray.counts or {}).items())),
                    expected=expected or {}, rest_t=tray.rest_t, association=tray.association or Association.NONE,
                    run=self.run)
        if tray.order is None and tray.ticket:
            v.association = Association.QR_UNKNOWN
        tray.last_verdict = kind
        if kind is VerdictKind.NO_ORDER:
            self._pass_over(tray)
        tray.verdicts.append(v)
        self.tracker.lock()  # from now on only a touch changes this tray's counts
        self.verdict_counts[kind] = self.verdict_counts.get(kind, 0) + 1
        self.on_verdict(v, self)

    def finish(self, t: float) -> None:
        """End of stream: a tray still in view counts as having left now."""
        if self.tray is not None:
            self._on_event(TrayEvent(TrayEventKind.LEFT, t), None)  # type: ignore[arg-type]
