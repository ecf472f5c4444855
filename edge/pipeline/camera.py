"""One camera's verification pipeline: gate -> detector -> tray tracker -> ticket and order
association -> verdicts. A conductor: each step is a part with its own module.

Fed one frame at a time (``process``), with POS orders arriving in between (the station's
queue). Decisions use stream time only, so a replay at any speed gives the same verdicts as
real time.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

import numpy as np

from detectors.detections import Detections, Detector
from detectors.zone import Zone
from edge.pipeline.association import OrderAssociation
from edge.pipeline.camera_health import CameraHealth
from edge.pipeline.checked_tray import CheckedTray
from edge.pipeline.gate import Gate
from edge.pipeline.model_switch import ModelSwitch
from edge.pipeline.params import PipelineParams
from edge.pipeline.ticket_reading import TicketReading
from edge.pipeline.tray import State, TrayEvent, TrayEventKind, TrayTracker
from edge.pipeline.verdict_rules import decide
from edge.pipeline.verdicts import Association, Verdict, VerdictKind
from edge.pipeline.view import LiveView
from edge.pipeline.zone_detector import ZoneDetector
from edge.sources.capture import Frame
from orders.menu import Menu
from orders.registry import StationOrders

log = logging.getLogger("traycheck.pipeline")


class CameraPipeline:
    """``health``: the camera's health checks (with its stored reference); default: learned afresh.
    ``run``: the run id every verdict carries."""

    def __init__(self, camera: str, detector: Detector, menu: Menu, queue: StationOrders,
                 on_verdict: Callable[[Verdict, "CameraPipeline"], None], zone: Zone | None = None,
                 params: PipelineParams = PipelineParams(), run: str = "", health: CameraHealth | None = None):
        self.camera, self.run, self.params, self.on_verdict = camera, run, params, on_verdict
        self.zone = zone or Zone()
        self.models = ModelSwitch(camera, detector, menu)
        self.gate = Gate(self.zone)
        self.sight = ZoneDetector(self.zone, params)
        self.tracker = TrayTracker(len(detector.classes), params.tray)
        self.tickets = TicketReading(params)
        self.orders = OrderAssociation(camera, queue, params)
        self.health = health if health is not None else CameraHealth(camera)
        self.tray: CheckedTray | None = None
        self.seq = self.frames = self.unchecked = 0  # trays seen, frames fed, trays gone unchecked
        self.last_frame: Frame | None = None
        self.verdict_counts: dict[str, int] = {}
        self.view = LiveView()  # what the dashboard shows: replaced (never changed) once per frame

    # -- per frame ---------------------------------------------------------
    def process(self, frame: Frame) -> None:
        if self.models.apply(station_empty=self.tray is None and self.tracker.state is State.EMPTY):
            self.tracker = TrayTracker(len(self.classes), self.params.tray)
            self.sight.last = Detections.empty()
        img = frame.image
        self.frames += 1
        previous, self.last_frame = self.last_frame, frame
        reading = self.gate.update(img, station_empty=self.tracker.state is State.EMPTY)
        counts, conf = None, 0.0
        detected = self.sight.needed(reading, self.tracker, self.frames)
        if detected:
            counts, conf = self.sight.detect(self.detector, frame)
        elif not self.tracker.busy or reading.motion >= self.params.tray.still_motion:
            self.sight.last = Detections.empty()  # nothing there, or it moves unseen: old boxes would mislead
        for ev in self.tracker.update(frame.t, reading, counts, conf):
            self._on_event(ev)
        tray = self.tray
        if tray is not None and self.tickets.due(tray, self.tracker, self.frames):
            self.tickets.read(tray, img, self.zone.bbox(img.shape[1], img.shape[0]))
        if tray is not None and tray.counts is not None and tray.order is None:
            self._associate(tray, frame.t)
        if tray is not None and tray.hold_until is not None and frame.t >= tray.hold_until:
            self._decide(tray, frame.t, confirmed=True)
        if frame.t >= self.health.due:  # (once a second: the view is judged while nothing is recognised in the zone)
            idle = not len(self.sight.last) and (self.tray is None or not self.tray.counts) \
                and (detected or not self.tracker.busy)  # (a tray moving unseen is not an idle view)
            self.health.observe(frame.t, img, previous.image if previous is not None else None, idle)
        self.view = live_view(frame, self.sight.last, self.classes, self.tracker.state, tray)

    def evidence(self) -> tuple[Frame | None, Detections]:
        """The frame and boxes that show what the tray's verdict counted, else the latest frame."""
        tray = self.tray
        if tray is not None and tray.counts is not None:
            found = self.sight.evidence(np.array([tray.counts.get(c, 0) for c in self.classes]))
            if found is not None:
                return found
        return self.last_frame, self.sight.last

    # -- tray events and verdicts ------------------------------------------------
    def _on_event(self, ev: TrayEvent) -> None:
        tray = self.tray
        if ev.kind is TrayEventKind.ARRIVED:
            self.seq += 1
            self.tray = CheckedTray(self.seq)
        elif tray is None:
            return
        elif ev.kind is TrayEventKind.REST:
            tray.rest_t = ev.t
        elif ev.kind in (TrayEventKind.COUNTS, TrayEventKind.CHANGED):
            assert ev.counts is not None
            tray.counts = {self.classes[i]: int(n) for i, n in enumerate(ev.counts) if n > 0}
            tray.confidence = ev.confidence
            if tray.order is not None:
                self._decide(tray, ev.t)
        elif ev.kind is TrayEventKind.LEFT:
            if tray.hold_until is not None:  # a first mismatch still held: the tray's last counts stand
                self._decide(tray, ev.t, confirmed=True)
            self.tray = None
            if tray.counts is None:
                self.unchecked += 1
                log.info("%s: tray %d left before it could be checked", self.camera, tray.seq)
            elif tray.order is None and tray.last_verdict is None:
                self._emit(tray, VerdictKind.NO_ORDER, {}, {}, ev.t)

    def _associate(self, tray: CheckedTray, t: float) -> None:
        assert tray.rest_t is not None
        if tray.last_verdict is None and t - tray.rest_t >= self.params.no_order_after_s:
            self._emit(tray, VerdictKind.NO_ORDER, {}, {}, t)  # an order that turns up later still gets checked
        if self.orders.associate(tray, t, self.menu):
            self._decide(tray, t)

    def _decide(self, tray: CheckedTray, t: float, confirmed: bool = False) -> None:
        d = decide(tray, t, self.params.mismatch_confirm_s, confirmed)
        if d is not None:
            self._emit(tray, d.kind, d.missing, d.extra, t, dict(sorted(Counter(tray.expected).items())))

    def _emit(self, tray: CheckedTray, kind: VerdictKind, missing: dict[str, int], extra: dict[str, int], t: float,
              expected: dict[str, int] | None = None) -> None:
        association = tray.association or Association.NONE
        if tray.order is None and tray.ticket:
            association = Association.QR_UNKNOWN
        v = Verdict(camera=self.camera, order_id=tray.order.order.id if tray.order else None, verdict=kind,
                    missing=missing, extra=extra, video_t=round(t, 3), tray_seq=tray.seq,
                    confidence=tray.confidence, seen=dict(sorted((tray.counts or {}).items())),
                    expected=expected or {}, rest_t=tray.rest_t, association=association, run=self.run)
        tray.last_verdict = kind
        if kind is VerdictKind.NO_ORDER:
            self.orders.pass_over(tray, self.menu)
        tray.verdicts.append(v)
        self.tracker.lock()  # from now on only a touch changes this tray's counts
        self.verdict_counts[kind] = self.verdict_counts.get(kind, 0) + 1
        self.on_verdict(v, self)

    def finish(self, t: float) -> None:
        """End of stream: a tray still in view counts as having left now."""
        if self.tray is not None:
            self._on_event(TrayEvent(TrayEventKind.LEFT, t))

    # -- the parts' figures, by their old names -------------------------------------
    detector = property(lambda self: self.models.detector)
    menu = property(lambda self: self.models.menu)
    classes = property(lambda self: self.models.classes)
    queue = property(lambda self: self.orders.queue)
    switch_pending = property(lambda self: self.models.pending)
    detected_frames = property(lambda self: self.sight.frames)
    last_detections = property(lambda self: self.sight.last)
    recent_detect_ms = property(lambda self: self.sight.recent_ms)

    def switch_model(self, detector: Detector, menu: Menu) -> None:
        """Use ``detector`` and ``menu`` from the next safe frame on (``ModelSwitch``; any thread)."""
        self.models.request(detector, menu)

    @property
    def observe_latency(self) -> Callable[[float], None] | None:
        return self.sight.observe_latency

    @observe_latency.setter
    def observe_latency(self, hook: Callable[[float], None] | None) -> None:
        self.sight.observe_latency = hook


def live_view(frame: Frame, detections: Detections, classes: tuple[str, ...], state: State,
              tray: CheckedTray | None) -> LiveView:
    """The dashboard's picture of this frame: its boxes, the station's state and the tray on it, if any."""
    if tray is None:
        return LiveView(frame, detections, classes, state.value)
    return LiveView(frame, detections, classes, state.value, tray.seq, tray.order, tray.ticket, tray.counts,
                    tray.verdicts[-1] if tray.verdicts else None)
