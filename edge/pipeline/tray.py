"""Tray lifecycle at one check zone: empty -> arriving -> resting -> leaving -> empty.

Driven by the gate (motion, presence) and by per-frame item counts in the zone.
While a tray rests, counts of still frames are voted over a short window (a
hand passing over the tray, or one missed detection, does not change the
vote). When the vote settles the tracker reports the tray's counts; when a
different vote holds for a full window (a worker added the missing fries) it
reports the change. Everything uses stream time.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum, StrEnum

import numpy as np

from edge.pipeline.gate import GateReading


class State(str, Enum):
    EMPTY = "empty"
    ARRIVING = "arriving"
    RESTING = "resting"
    LEAVING = "leaving"


@dataclass(frozen=True)
class TrayParams:
    presence_on: float = 0.12  # share of the zone that must differ from the empty station
    presence_off: float = 0.05
    still_motion: float = 0.015  # below this a frame counts as still
    rest_frames: int = 3  # still frames in a row before the tray is at rest
    vote_frames: int = 5  # still frames voted per decision
    quick_frames: int = 3  # the first decision may come this early when these frames agree exactly
    change_frames: int = 2  # consecutive votes for different counts before a change is reported
    touch_motion: float = 0.0015  # a slow hand (a worker fixing a tray) moves this much, frame after frame
    touch_frames: int = 3  # ...for this many frames in a row: the tray was touched
    leave_frames: int = 2  # moving frames with falling presence before "leaving"


class TrayEventKind(StrEnum):
    """What the tracker reports about the tray at the station."""

    ARRIVED = "arrived"  # something entered the zone
    REST = "rest"  # it came to rest (``t`` is when it stopped moving)
    COUNTS = "counts"  # the first settled vote of its items
    CHANGED = "changed"  # a different vote held for a full window (items added or taken)
    LEFT = "left"  # the zone is empty again


@dataclass
class TrayEvent:
    kind: TrayEventKind
    t: float
    counts: np.ndarray | None = None
    confidence: float = 0.0

    def __post_init__(self) -> None:
        self.kind = TrayEventKind(self.kind)


@dataclass
class _Vote:
    counts: deque[np.ndarray] = field(default_factory=deque)
    confs: deque[float] = field(default_factory=deque)


class TrayTracker:
    def __init__(self, n_classes: int, params: TrayParams = TrayParams()):
        self.n_classes = n_classes
        self.params = params
        self.state = State.EMPTY
        self.rest_t: float | None = None
        self.decided: np.ndarray | None = None
        self._still = 0
        self._still_since = 0.0
        self._moving = 0
        self._peak_presence = 0.0
        self._window = _Vote(deque(maxlen=params.vote_frames), deque(maxlen=params.vote_frames))
        self._pending_change = 0
        self._votes_since_motion = 0
        self.locked = False  # set by the owner once a verdict is out: then only a touch changes the counts
        self._touched = False
        self._stirring = 0  # frames in a row with faint motion

    def lock(self) -> None:
        """A verdict went out for the current counts. From now on a change counts only after
        motion in the zone (a hand): items do not appear or vanish on a tray nobody touches,
        so a flickering detection on a still tray must not turn a verdict around."""
        self.locked = True
        self._touched = False

    @property
    def settled(self) -> bool:
        """Decided, and a full window of still frames since the last motion agrees: the
        detector may skip frames until something moves again."""
        return self.decided is not None and self._votes_since_motion >= self.params.vote_frames \
            and self._pending_change == 0 and self._stirring == 0

    @property
    def still_frames(self) -> int:
        """Frames in a row without motion (a ticket is read only from a still picture)."""
        return self._still

    @property
    def busy(self) -> bool:
        """Whether the detector should run on this frame."""
        return self.state is not State.EMPTY

    def _reset(self) -> None:
        self.rest_t, self.decided = None, None
        self._still = self._moving = self._pending_change = self._votes_since_motion = 0
        self.locked = self._touched = False
        self._peak_presence = 0.0
        self._clear_window()

    def _clear_window(self) -> None:
        self._window.counts.clear()
        self._window.confs.clear()

    def _add_vote(self, counts: np.ndarray, conf: float) -> None:
        self._window.counts.append(counts)
        self._window.confs.append(conf)
        self._votes_since_motion += 1

    def update(self, t: float, g: GateReading, counts: np.ndarray | None, conf: float) -> list[TrayEvent]:
        """Advance one frame. ``counts``: per-class items in the zone (None if the detector did not run)."""
        p = self.params
        ev: list[TrayEvent] = []
        still = g.motion < p.still_motion
        if still and self._still == 0:
            self._still_since = t
        self._still = self._still + 1 if still else 0
        self._moving = 0 if still else self._moving + 1
        self._stirring = self._stirring + 1 if g.motion > p.touch_motion else 0
        if self._stirring >= p.touch_frames:
            self._touched = True
        items = counts is not None and counts.sum() > 0

        if self.state is State.EMPTY:
            if g.presence > p.presence_on or (items and not still):
                self._reset()
                self.state = State.ARRIVING
                ev.append(TrayEvent(TrayEventKind.ARRIVED, t))
            return ev

        self._peak_presence = max(self._peak_presence, g.presence)
        if g.presence < p.presence_off and not items:
            self.state = State.EMPTY
            ev.append(TrayEvent(TrayEventKind.LEFT, t))
            self._reset()
            return ev

        if self.state is State.ARRIVING and not self._arriving(ev, still, items, counts, conf):
            return ev
        if self.state in (State.RESTING, State.LEAVING):
            self._resting(ev, t, g, still, counts, conf)
        return ev

    def _arriving(self, ev: list[TrayEvent], still: bool, items: bool, counts: np.ndarray | None,
                  conf: float) -> bool:
        """A tray sliding in: True once it has come to rest (this frame then votes as a resting one)."""
        if not still:
            self._clear_window()  # counts from a pause mid-slide do not describe the tray at rest
            self._votes_since_motion = 0
            return False
        if self._still >= self.params.rest_frames and items:
            self.state = State.RESTING
            self.rest_t = self._still_since
            ev.append(TrayEvent(TrayEventKind.REST, self._still_since))
            return True
        if counts is not None:  # still frames before "rest" already vote
            self._add_vote(counts, conf)
        return False

    def _resting(self, ev: list[TrayEvent], t: float, g: GateReading, still: bool, counts: np.ndarray | None,
                 conf: float) -> None:
        """A tray at rest (or leaving): still frames vote; a decided count changes only after a touch."""
        p = self.params
        if not still:
            self._votes_since_motion = 0
            self._touched = True
            if self._moving >= p.leave_frames and g.presence < 0.6 * self._peak_presence:
                self.state = State.LEAVING
            return  # a hand or the tray moving: these frames do not vote
        if self.state is State.LEAVING:
            self.state = State.RESTING  # it stopped again: same tray
        if counts is None:
            return
        self._add_vote(counts, conf)
        n = len(self._window.counts)
        stack = np.stack(self._window.counts)
        quick = self.decided is None and n >= p.quick_frames and (stack == stack[0]).all()
        if n < p.vote_frames and not quick:
            return
        vote = np.median(stack, axis=0).round().astype(int)
        agreement = float((stack == vote).all(axis=1).mean())
        confidence = float(np.mean(self._window.confs)) * agreement
        if self.decided is None:
            self.decided = vote
            ev.append(TrayEvent(TrayEventKind.COUNTS, t, vote, confidence))
        elif not np.array_equal(vote, self.decided) and (self._touched or not self.locked):
            self._pending_change += 1
            if self._pending_change >= p.change_frames:
                self.decided = vote
                self._pending_change = 0
                self._touched = False
                ev.append(TrayEvent(TrayEventKind.CHANGED, t, vote, confidence))
        else:
            self._pending_change = 0
            if self._votes_since_motion >= p.vote_frames:
                self._touched = False  # a hand passed and nothing changed
