"""One camera's verification pipeline: gate -> detector -> tray tracker -> ticket and order
association -> verdicts. A conductor: each step is a part with its own module (and its own tests);
this one only hands each part what the others found.

Fed one frame at a time (``process``), with POS orders arriving in between (the station's
queue). Decisions use stream time only, so a replay at any speed gives the same verdicts as
real time.
"""
from __future__ import annotations

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
from edge.pipeline.tray import State, TrayTracker
from edge.pipeline.tray_checks import TrayChecks
from edge.pipeline.verdicts import Verdict
from edge.pipeline.view import LiveView
from edge.pipeline.zone_detector import ZoneDetector
from edge.sources.capture import Frame
from orders.menu import Menu
from orders.registry import StationOrders


class CameraPipeline:
    """``health``: the camera's health checks (with its stored reference); default: learned afresh.
    ``run``: the run id every verdict carries."""

    def __init__(self, camera: str, detector: Detector, menu: Menu, queue: StationOrders,
                 on_verdict: Callable[[Verdict, "CameraPipeline"], None], zone: Zone | None = None,
                 params: PipelineParams = PipelineParams(), run: str = "", health: CameraHealth | None = None):
        self.camera, self.run_id, self.params, self.on_verdict = camera, run, params, on_verdict
        self.zone = zone or Zone()
        self.models = ModelSwitch(camera, detector, menu)
        self.gate = Gate(self.zone)
        self.sight = ZoneDetector(self.zone, params)
        self.tracker = TrayTracker(len(detector.classes), params.tray)
        self.tickets = TicketReading(params)
        self.orders = OrderAssociation(camera, queue, params)
        self.checks = TrayChecks(camera, self.models, self.orders, params, self._verdict, run)
        self.health = health if health is not None else CameraHealth(camera)
        self.frames = 0  # frames fed
        self.last_frame: Frame | None = None
        self.view = LiveView()  # what the dashboard shows: replaced (never changed) once per frame

    # -- per frame ---------------------------------------------------------
    def process(self, frame: Frame) -> None:
        """One frame through the parts: a waiting model switch, the gate, the detector (when its boxes
        would be used), the tracker, the ticket, the tray's order and verdicts, the camera's health."""
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
            self.checks.on_event(ev)
        tray = self.checks.tray
        if tray is not None and self.tickets.due(tray, self.tracker, self.frames):
            self.tickets.read(tray, img, self.zone.bbox(img.shape[1], img.shape[0]))
        self.checks.step(frame.t)
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

    def finish(self, t: float) -> None:
        """End of stream: a tray still in view counts as having left now."""
        self.checks.finish(t)

    def _verdict(self, v: Verdict) -> None:
        """A tray got ``v``: from now on only a touch changes its counts; then it is handed on."""
        self.tracker.lock()
        self.on_verdict(v, self)

    # -- the parts' figures, by their old names -------------------------------------
    detector = property(lambda self: self.models.detector)
    menu = property(lambda self: self.models.menu)
    classes = property(lambda self: self.models.classes)
    queue = property(lambda self: self.orders.queue)
    tray = property(lambda self: self.checks.tray)
    seq = property(lambda self: self.checks.seq)
    unchecked = property(lambda self: self.checks.unchecked)
    verdict_counts = property(lambda self: self.checks.verdict_counts)
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
