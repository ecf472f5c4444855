"""The tray state machine, driven by scripted gate readings and per-frame counts."""
from __future__ import annotations

import numpy as np
import pytest

from edge.pipeline.gate import GateReading
from edge.pipeline.tray import State, TrayTracker

pytestmark = pytest.mark.quick

FPS = 15
N = 10
EMPTY = GateReading(0.0, 0.0)
MOVING = GateReading(0.3, 0.5)
STILL = GateReading(0.0, 0.6)
HAND = GateReading(0.2, 0.6)


def counts(**kw: int) -> np.ndarray:
    from detectors.classes import CLASS_ID

    c = np.zeros(N, int)
    for k, v in kw.items():
        c[CLASS_ID[k]] = v
    return c


class Script:
    def __init__(self) -> None:
        self.tracker = TrayTracker(N)
        self.t = 0.0
        self.events: list = []

    def run(self, n: int, reading: GateReading, c: np.ndarray | None, conf: float = 0.9) -> "Script":
        for _ in range(n):
            for ev in self.tracker.update(self.t, reading, c, conf):
                self.events.append(ev)
            self.t += 1 / FPS
        return self

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


MEAL = counts(burger=1, fries=1, drink=1)


def test_normal_tray():
    s = Script().run(10, EMPTY, None).run(15, MOVING, MEAL).run(30, STILL, MEAL).run(15, MOVING, MEAL).run(5, EMPTY, counts())
    assert s.kinds() == ["arrived", "rest", "counts", "left"]
    rest = s.events[1]
    assert abs(rest.t - 25 / FPS) < 1e-6  # the first still frame
    decided = s.events[2]
    assert decided.counts.tolist() == MEAL.tolist() and decided.t - rest.t < 0.6
    assert s.tracker.state is State.EMPTY


def test_hand_passing_over_does_not_change_the_vote():
    s = Script().run(15, MOVING, MEAL).run(10, STILL, MEAL)
    s.run(6, HAND, counts(burger=1))  # a hand hides the fries and the drink for a moment
    s.run(20, STILL, MEAL).run(5, EMPTY, counts())
    assert s.kinds() == ["arrived", "rest", "counts", "left"]


def test_one_missed_frame_is_outvoted():
    s = Script().run(15, MOVING, MEAL).run(4, STILL, MEAL).run(1, STILL, counts(burger=1, fries=1)).run(20, STILL, MEAL)
    assert s.kinds() == ["arrived", "rest", "counts"]
    assert s.events[2].counts.tolist() == MEAL.tolist()


def test_fix_while_resting_reports_the_change():
    short = counts(burger=1, fries=1)
    s = Script().run(15, MOVING, short).run(20, STILL, short).run(8, HAND, short).run(20, STILL, MEAL)
    assert s.kinds() == ["arrived", "rest", "counts", "changed"]
    assert s.events[2].counts.tolist() == short.tolist() and s.events[3].counts.tolist() == MEAL.tolist()


def test_tray_leaving_before_it_rests():
    s = Script().run(15, MOVING, MEAL).run(5, EMPTY, counts())
    assert s.kinds() == ["arrived", "left"]


def test_two_trays_back_to_back():
    other = counts(nuggets=1, sauce=2)
    s = Script().run(15, MOVING, MEAL).run(20, STILL, MEAL).run(15, MOVING, MEAL).run(2, EMPTY, counts())
    s.run(15, MOVING, other).run(20, STILL, other).run(15, MOVING, other).run(2, EMPTY, counts())
    assert s.kinds() == ["arrived", "rest", "counts", "left"] * 2
    assert s.events[6].counts.tolist() == other.tolist()


def test_unanimous_first_frames_decide_early_and_a_split_waits_for_the_full_window():
    s = Script().run(15, MOVING, MEAL).run(10, STILL, MEAL)
    rest, decided = s.events[1], s.events[2]
    assert decided.kind == "counts" and abs((decided.t - rest.t) - 2 / FPS) < 1e-6  # third still frame
    short = counts(burger=1, fries=1)
    s = Script().run(15, MOVING, MEAL).run(1, STILL, MEAL).run(1, STILL, short).run(10, STILL, MEAL)
    rest, decided = s.events[1], s.events[2]
    assert abs((decided.t - rest.t) - 4 / FPS) < 1e-6  # the fifth still frame: a full window
    assert decided.counts.tolist() == MEAL.tolist()


def test_a_fix_is_reported_soon_after_the_hand_leaves():
    short = counts(burger=1, fries=1)
    s = Script().run(15, MOVING, short).run(20, STILL, short).run(8, HAND, short)
    hand_gone = s.t
    s.run(20, STILL, MEAL)
    changed = s.events[-1]
    assert changed.kind == "changed" and changed.t - hand_gone <= 0.4


def test_settled_only_after_a_full_still_window_since_the_last_motion():
    s = Script().run(15, MOVING, MEAL).run(10, STILL, MEAL)
    assert s.tracker.settled
    s.run(2, HAND, MEAL)
    assert not s.tracker.settled  # the detector must look at every frame again
    s.run(4, STILL, MEAL)
    assert not s.tracker.settled
    s.run(1, STILL, MEAL)
    assert s.tracker.settled


def test_after_a_verdict_only_a_touch_changes_the_counts():
    short = counts(burger=1, fries=1)
    s = Script().run(15, MOVING, MEAL).run(10, STILL, MEAL)
    s.tracker.lock()  # the owner sent a verdict for MEAL
    s.run(15, STILL, short)  # the drink flickers out of the detections: nobody touched the tray
    assert s.kinds() == ["arrived", "rest", "counts"]
    s.run(3, HAND, short).run(10, STILL, short)  # a hand takes the drink away
    assert s.kinds() == ["arrived", "rest", "counts", "changed"]
    assert s.events[-1].counts.tolist() == short.tolist()
