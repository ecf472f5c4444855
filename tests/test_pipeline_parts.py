"""The camera pipeline's machinery parts, each on its own through its public interface, on small
hand-made inputs: the gate, the zone detector, the ticket reading, the model switch and the live view.
(The tray tracker: tests/test_tray_tracker.py; camera health: tests/test_camera_health.py; order
association and verdict rules: tests/test_pipeline_decisions.py; the tray checks fed tray events:
tests/test_pipeline_orders.py.)"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import pytest

from detectors.detections import Detections
from detectors.zone import Zone
from edge.pipeline.camera import live_view
from edge.pipeline.checked_tray import CheckedTray
from edge.pipeline.gate import Gate, GateReading
from edge.pipeline.model_switch import ModelSwitch
from edge.pipeline.params import PipelineParams
from edge.pipeline.ticket_reading import TicketReading
from edge.pipeline.tray import State, TrayTracker
from edge.pipeline.verdicts import Verdict
from edge.pipeline.zone_detector import ZoneDetector
from edge.sources.frame import Frame
from orders.menu import load_menu

CLASSES = ("burger", "fries", "drink")
W, H = 640, 480
IDLE, ARRIVING, STILL = GateReading(0.0, 0.0), GateReading(0.3, 0.5), GateReading(0.0, 0.6)


def counter(level: int = 120, tray: bool = False) -> np.ndarray:
    """A flat counter at ``level``; ``tray``: a bright tray in the middle of the zone."""
    img = np.full((H, W, 3), level, np.uint8)
    if tray:
        img[150:330, 200:440] = 230
    return img


def tracker_at(*readings: GateReading, counts: np.ndarray | None = None) -> TrayTracker:
    """A tray tracker after one frame per reading (``counts`` on each)."""
    tracker = TrayTracker(len(CLASSES))
    for i, r in enumerate(readings):
        tracker.update(i / 15, r, counts, 0.9)
    return tracker


# -- Gate ----------------------------------------------------------------------------------
def test_the_gate_reads_motion_while_a_tray_moves_in_and_presence_while_it_stays():
    gate = Gate(Zone())
    assert gate.update(counter(), station_empty=True) == GateReading(0.0, 0.0)
    arriving = gate.update(counter(tray=True), station_empty=False)
    assert arriving.motion > 0.1 and arriving.presence > 0.1
    resting = gate.update(counter(tray=True), station_empty=False)
    assert resting.motion == 0.0 and resting.presence == pytest.approx(arriving.presence)


def test_the_gate_ignores_a_lamp_brightening_the_whole_counter():
    gate = Gate(Zone())
    gate.update(counter(120), station_empty=True)
    assert gate.update(counter(138), station_empty=True) == GateReading(0.0, 0.0)


def test_the_gate_learns_the_background_only_while_the_station_is_empty():
    held, learning = Gate(Zone()), Gate(Zone())
    for gate in (held, learning):
        gate.update(counter(), station_empty=True)
    for _ in range(60):
        kept = held.update(counter(tray=True), station_empty=False)
        learned = learning.update(counter(tray=True), station_empty=True)  # (say, a new mat on the counter)
    assert kept.presence > 0.1 and learned.presence < PipelineParams().tray.presence_off


# -- ZoneDetector -----------------------------------------------------------------------------
@dataclass
class FixedDetector:
    """A detector that sees the same boxes on every frame (the model is not under test here)."""

    boxes: Detections
    classes: tuple[str, ...] = CLASSES
    lookalikes: tuple[tuple[str, str], ...] = ()
    calls: list[int] = field(default_factory=list)

    def detect(self, frame: np.ndarray) -> Detections:
        self.calls.append(frame.shape[0])
        return self.boxes


def boxes(*rows: tuple[float, float, float, float, float, int]) -> Detections:
    a = np.array(rows, np.float64).reshape(-1, 6)
    return Detections(a[:, :4].astype(np.float32), a[:, 4].astype(np.float32), a[:, 5].astype(np.int64))


def test_the_detector_runs_on_an_empty_station_only_when_something_comes():
    sight = ZoneDetector(Zone(), PipelineParams())
    idle = tracker_at(IDLE)
    assert not sight.needed(IDLE, idle, 1)
    assert sight.needed(GateReading(0.0, 0.5), idle, 1) and sight.needed(GateReading(0.3, 0.0), idle, 1)


def test_the_detector_skips_moving_frames_of_a_tray_in_view_and_most_frames_of_a_settled_one():
    sight, params = ZoneDetector(Zone(), PipelineParams()), PipelineParams()
    meal = np.array([1, 1, 1])
    arriving = tracker_at(IDLE, ARRIVING, counts=meal)
    assert arriving.state is State.ARRIVING
    assert not sight.needed(ARRIVING, arriving, 2)  # it plainly is there and moving frames never vote
    assert sight.needed(GateReading(0.3, 0.0), arriving, 2)  # moving and gone: is it leaving?
    assert sight.needed(STILL, arriving, 2)
    settled = tracker_at(IDLE, ARRIVING, *[STILL] * 12, counts=meal)
    assert settled.state is State.RESTING and settled.settled
    stride = params.settled_stride
    assert [sight.needed(STILL, settled, n) for n in range(stride, 2 * stride)] == [True] + [False] * (stride - 1)


def test_only_confident_boxes_inside_the_zone_count_once_each():
    det = FixedDetector(boxes((100, 100, 200, 200, 0.9, 0),  # a burger
                              (102, 101, 198, 199, 0.8, 0),  # the same burger again
                              (300, 200, 380, 260, 0.3, 1),  # fries below the confidence floor
                              (0, 0, 20, 20, 0.95, 2)))  # a drink outside the zone
    sight = ZoneDetector(Zone(), PipelineParams())
    frame = Frame(0, 0.0, counter(tray=True))
    counts, conf = sight.detect(det, frame)
    assert counts.tolist() == [1, 0, 0] and conf == pytest.approx(0.9)
    assert sight.last.class_id.tolist() == [0] and sight.frames == 1 and len(sight.recent_ms) == 1
    assert sight.evidence(np.array([1, 0, 0]))[0] is frame and sight.evidence(np.array([0, 1, 0])) is None


def test_a_cameras_own_confidence_floor_beats_the_models():
    det = FixedDetector(boxes((300, 200, 380, 260, 0.3, 1)))
    assert ZoneDetector(Zone(), PipelineParams()).detect(det, Frame(0, 0.0, counter()))[0].tolist() == [0, 0, 0]
    low = ZoneDetector(Zone(), PipelineParams(min_confidence=0.25))
    assert low.detect(det, Frame(0, 0.0, counter()))[0].tolist() == [0, 1, 0]


# -- TicketReading ---------------------------------------------------------------------------
def ticket_on_counter(text: str) -> np.ndarray:
    code = cv2.QRCodeEncoder.create().encode(text)
    code = cv2.resize(code, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST)
    img = counter(200)
    img[200:200 + code.shape[0], 300:300 + code.shape[1]] = code[..., None]
    return img


def test_a_ticket_is_looked_for_on_still_frames_a_stride_apart_until_it_is_read_or_the_tries_run_out():
    params = PipelineParams()
    reading, tray = TicketReading(params), CheckedTray(1)
    still = tracker_at(IDLE, ARRIVING, STILL)  # still, not yet at rest: a ticket may already show
    assert still.still_frames == 1
    stride = params.ticket_stride
    assert [reading.due(tray, still, n) for n in range(stride, 2 * stride)] == [True] + [False] * (stride - 1)
    assert not reading.due(tray, tracker_at(IDLE, ARRIVING), stride)  # moving: a blurred code
    assert not reading.due(tray, tracker_at(IDLE), stride)  # no tray
    tray.ticket_tries = params.ticket_tries
    assert not reading.due(tray, still, stride)  # tried enough: the tray goes to its nearest order
    assert not reading.due(CheckedTray(2, ticket="5"), still, stride)  # read already


def test_a_try_reads_the_ticket_in_the_zone_and_counts_as_one_try():
    reading, zone = TicketReading(PipelineParams()), Zone().bbox(W, H)
    blank, shown = CheckedTray(1), CheckedTray(2)
    reading.read(blank, counter(200), zone)
    reading.read(shown, ticket_on_counter("6783"), zone)
    assert (blank.ticket, blank.ticket_tries) == (None, 1) and (shown.ticket, shown.ticket_tries) == ("6783", 1)


# -- ModelSwitch --------------------------------------------------------------------------------
def test_a_model_with_the_same_classes_switches_at_the_next_frame_even_with_a_tray_in_view():
    old, new, menu = FixedDetector(Detections.empty()), FixedDetector(Detections.empty()), load_menu(None)
    models = ModelSwitch("expo-1", old, menu)
    assert models.apply(station_empty=False) is False and models.detector is old  # nothing asked
    models.request(new, menu)
    assert models.pending
    assert models.apply(station_empty=False) is False  # the class list stays: nothing to start afresh
    assert models.detector is new and not models.pending


def test_a_model_with_other_classes_waits_until_the_station_is_empty():
    old, menu = FixedDetector(Detections.empty()), load_menu(None)
    other = FixedDetector(Detections.empty(), classes=("soup", "bread"))
    models = ModelSwitch("expo-1", old, menu)
    models.request(FixedDetector(Detections.empty(), classes=("tea",)), menu)
    models.request(other, menu)  # the latest request wins
    assert models.apply(station_empty=False) is False and models.detector is old and models.pending
    assert models.classes == CLASSES
    assert models.apply(station_empty=True) is True  # the caller starts its count vectors afresh
    assert models.detector is other and models.classes == ("soup", "bread") and not models.pending


# -- LiveView ---------------------------------------------------------------------------------
def test_the_live_view_shows_the_frame_its_boxes_and_the_tray_with_its_latest_verdict():
    frame, dets = Frame(3, 1.0, counter()), boxes((100, 100, 200, 200, 0.9, 0))
    empty = live_view(frame, dets, CLASSES, State.EMPTY, None)
    assert (empty.frame, empty.detections, empty.state, empty.tray_seq, empty.last_verdict) == \
        (frame, dets, "empty", None, None)
    tray = CheckedTray(4, ticket="9", counts={"burger": 1})
    assert live_view(frame, dets, CLASSES, State.RESTING, tray).last_verdict is None
    tray.verdicts += [Verdict("expo-1", "9", "mismatch", {"fries": 1}, {}, 1.0, 4),
                      Verdict("expo-1", "9", "resolved", {}, {}, 2.0, 4)]
    view = live_view(frame, dets, CLASSES, State.RESTING, tray)
    assert (view.state, view.tray_seq, view.ticket, view.counts) == ("resting", 4, "9", {"burger": 1})
    assert view.last_verdict is tray.verdicts[-1] and view.classes == CLASSES
