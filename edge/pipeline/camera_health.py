"""One camera's health states: owns sampling and raise/clear; not the checks, storage or publishing.

The checks of ``health_checks`` sampled at most once a second of stream time, turned into
states (ok / warning / fault) that persist before they are raised and clear by themselves.

``CameraHealth.observe`` is called on every frame by the pipeline and costs one
comparison until a sample is due. A sample judges the view only on idle frames (nothing
the detector recognises in the zone); ``frozen`` is judged on every sample, and
``no_frames`` is set by the capture layer (``set_no_frames``). Everything runs on stream
time, so a replay at any speed raises and clears at the same moments. Every change is
logged once and handed to ``on_change`` as the interface's change object.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.pipeline.health_checks import CHECKS, OK, STATES, Reading, Thresholds, check_frozen, check_view, frame_change
from edge.pipeline.reference_view import ReferenceView, small_grey

log = logging.getLogger("traycheck.health")

U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class HealthParams:
    interval_s: float = 1.0  # at most one sample per second of stream
    raise_s: float = 8.0  # a condition must hold this long before it is raised
    clear_s: float = 4.0  # ...and be gone this long before it clears
    gap_s: float = 2.0  # a view check's streak survives good readings this long (a frame of a knocked
    # camera that happens to line up): a real fault seldom reads bad on every single sample
    learn_s: float = 5.0  # idle stream learned as the reference when none is stored
    thresholds: Thresholds = Thresholds()


@dataclass
class CheckState:
    state: str = OK
    reason: str = ""
    since: float = 0.0


class HealthStates:
    """The persistence state machine of all checks, on stream time."""

    def __init__(self, params: HealthParams = HealthParams(), t0: float = 0.0):
        self.params = params
        self.checks = {name: CheckState(since=t0) for name in CHECKS}
        self._bad_since: dict[str, list[float | None]] = {name: [None, None, None] for name in CHECKS}
        self._bad_last: dict[str, list[float | None]] = {name: [None, None, None] for name in CHECKS}
        self._good_since: dict[str, float | None] = {name: None for name in CHECKS}

    def update(self, t: float, readings: dict[str, Reading]) -> bool:
        """Feed one sample's readings; True when any check changed state."""
        changed = False
        for name, r in readings.items():
            bad, last = self._bad_since[name], self._bad_last[name]
            # frozen reads an exact fact (a repeated frame): no dropout to bridge, and bridging would
            # join the still stretches of a noise-free scene into one
            gap = 0.0 if name == "frozen" else self.params.gap_s
            for lvl in (1, 2):
                if r.level >= lvl:
                    bad[lvl] = bad[lvl] if bad[lvl] is not None else t
                    last[lvl] = t
                elif (s := last[lvl]) is not None and t - s > gap:
                    bad[lvl] = None  # good for longer than a reading's dropout: the streak has ended
            held = max((lvl for lvl in (1, 2)
                        if r.level >= lvl and (s := bad[lvl]) is not None and t - s >= self.params.raise_s), default=0)
            cs = self.checks[name]
            cur = STATES.index(cs.state)
            new = cur
            if held > cur:
                new = held
                self._good_since[name] = None
            elif r.level < cur:
                good = self._good_since[name]
                if good is None:
                    good = self._good_since[name] = t
                if t - good >= self.params.clear_s:
                    new = held
            else:
                self._good_since[name] = None
            if new > 0 and r.level > 0:
                cs.reason = r.reason  # the latest figures of a raised check
            if new != cur:
                start = bad[new] if new > 0 else t
                cs.state, cs.since = STATES[new], float(start if start is not None else t)
                cs.reason = cs.reason if new > 0 else ""
                self._good_since[name] = None
                changed = True
        return changed

    def set(self, name: str, state: str, reason: str, t: float) -> bool:
        """Set a check from outside (``no_frames``: the capture layer has its own persistence)."""
        cs = self.checks[name]
        if cs.state == state:
            cs.reason = reason
            return False
        cs.state, cs.reason, cs.since = state, reason, t
        return True

    @property
    def worst(self) -> str:
        return STATES[max(STATES.index(c.state) for c in self.checks.values())]


class CameraHealth:
    """One camera's health checks, fed by its pipeline."""

    def __init__(self, camera: str, reference: ReferenceView | None = None, params: HealthParams = HealthParams(),
                 on_change: Callable[[dict[str, Any]], None] | None = None,
                 on_learned: Callable[[ReferenceView], None] | None = None):
        """``reference``: the stored one (None: learned from the first ``learn_s`` of idle stream);
        ``on_learned``: stores a newly learned reference."""
        self.camera = camera
        self.params = params
        self.reference = reference
        self.on_change = on_change
        self.on_learned = on_learned
        self.states = HealthStates(params)
        self.t = 0.0
        self.due = 0.0  # stream time of the next sample
        self._learning: list[tuple[float, U8]] = []
        self.samples = 0
        self._lock = threading.Lock()  # the camera thread samples, the service sets no_frames
        self.current: dict[str, Any] = self._change()  # replaced, never changed: other threads read it

    def relearn(self) -> None:
        """Forget the reference: the next idle seconds are learned as the new one (the system page)."""
        with self._lock:
            self.reference = None
            self._learning = []

    def observe(self, t: float, image: U8, previous: U8 | None, idle: bool) -> None:
        """One frame; ``previous``: the frame before it; ``idle``: nothing recognised in the zone."""
        if t < self.due:
            return
        self.due = t + self.params.interval_s
        with self._lock:
            self._sample(t, image, previous, idle)

    def _sample(self, t: float, image: U8, previous: U8 | None, idle: bool) -> None:
        self.t = t
        self.samples += 1
        readings: dict[str, Reading] = {}
        if previous is not None:
            readings["frozen"] = check_frozen(frame_change(image, previous), self.params.thresholds)
        if idle:
            grey = small_grey(image)
            if self.reference is None:
                self._learn(t, grey)
            else:
                readings.update(check_view(grey, self.reference, self.params.thresholds))
        if self.states.update(t, readings):
            self._changed()

    def _learn(self, t: float, grey: U8) -> None:
        self._learning.append((t, grey))
        if t - self._learning[0][0] < self.params.learn_s:
            return
        self.reference = ReferenceView.from_greys([g for _, g in self._learning], t)
        self._learning = []
        log.info("camera %s: reference view learned at %.1f s (brightness %.0f, sharpness %.0f, %d keypoints)",
                 self.camera, t, self.reference.brightness, self.reference.sharpness, len(self.reference.points))
        if self.on_learned is not None:
            self.on_learned(self.reference)

    def set_no_frames(self, state: str, reason: str | None) -> None:
        """The capture layer's word: ``ok``, or no frames (``warning`` while reconnecting, ``fault`` failed)."""
        with self._lock:
            if self.states.set("no_frames", state, reason or "", self.t):
                self._changed()

    def _change(self) -> dict[str, Any]:
        checks = {name: {"state": c.state, "reason": c.reason, "since": round(c.since, 3)}
                  for name, c in self.states.checks.items()}
        return {"camera": self.camera, "t": round(self.t, 3), "state": self.states.worst, "checks": checks}

    def _changed(self) -> None:
        before = self.current
        self.current = change = self._change()
        moved = [f"{name} {before['checks'][name]['state']} -> {c['state']}" + (f" ({c['reason']})" if c['reason']
                                                                              else "")
                 for name, c in change["checks"].items() if c["state"] != before["checks"][name]["state"]]
        (log.info if change["state"] == OK else log.warning)(
            "camera %s health %s at %.1f s: %s", self.camera, change["state"], self.t, "; ".join(moved))
        if self.on_change is not None:
            self.on_change(change)
