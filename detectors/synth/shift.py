"""Render a scenario into a recorded shift (contract section 3).

Frames are a pure function of (scenario, seed, frame index): each tray draws its
layout from its own RNG stream and camera noise from one stream per frame, so a
shift renders the same on every machine and a single frame can be re-rendered.
A noise ``draw`` other than 0 (``eval --repeats``) changes only the camera's noise
and flicker: the same trays through another few seconds of sensor noise.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.synth import props
from detectors.synth.camera import Fault, degrade, resolved_faults
from detectors.synth.layout import TrayLayout, build_layout
from detectors.synth.scenario import LoadedScenario
from detectors.synth.scenario_schema import SLIDE_S, Tray
from detectors.synth.scene import Layer, compose, hand_layer, smoothstep
from detectors.synth.shift_records import camera_truth_records, pos_events, truth_records, write_jsonl
from detectors.synth.video import VideoWriter

FIX_HAND_S = 0.5  # the worker's hand is over the tray this long before and after a fix


@dataclass
class TrayRender:
    """Everything precomputed for one tray of the scenario."""

    tray: Tray
    before: Layer  # the loaded tray as it arrives
    after: Layer | None  # after the fix, if any
    layout_before: TrayLayout
    layout_after: TrayLayout | None
    rest_xy: tuple[int, int]
    hands: list[tuple[Layer, float, float, float, float]]  # layer, dx, dy (rel. to tray), t0, t1
    fix_hand: tuple[Layer, float, float] | None


class ShiftRenderer:
    """Renders the frames of a loaded scenario, one at a time, in order or not."""

    def __init__(self, loaded: LoadedScenario, draw: int = 0):
        self.loaded = loaded
        self.draw = draw  # 0: the scenario's own camera noise; k > 0: the k-th other draw of it
        s = loaded.scenario
        self.w, self.h, self.fps = s.video.width, s.video.height, s.video.fps
        self.scale = min(self.w / 640, self.h / 480)
        self.n_frames = int(math.ceil(s.duration * self.fps))
        self.background = props.background(np.random.default_rng([s.seed, 0]), self.w, self.h)
        self._cache: dict[int, TrayRender] = {}
        # camera faults as frame ranges [first, end); each event draws from its own stream
        self.faults = [(int(math.ceil(ev.at * self.fps - 1e-9)), int(math.ceil(ev.end * self.fps - 1e-9)), fault)
                       for ev, fault in zip(s.camera_events, resolved_faults(loaded))]
        self._frozen: tuple[int, np.ndarray] | None = None

    def _tray(self, index: int) -> TrayRender:
        if index not in self._cache:
            if len(self._cache) > 2:
                self._cache.pop(min(self._cache))
            self._cache[index] = self._build(index)
        return self._cache[index]

    def _build(self, index: int) -> TrayRender:
        s = self.loaded.scenario
        tray = s.trays[index]
        rng = np.random.default_rng([s.seed, 1, index])
        placed = self.loaded.placed(tray)
        classes = [c for c, n in sorted(placed.items()) for _ in range(n)]
        layout = build_layout(rng, classes, tray.ticket, tray.order.id, tray.clutter, self.scale)
        before = Layer.of(layout.render(), self.scale, 6, 0.45)
        tw, th = before.sprite.size
        rest = (int((self.w - tw) / 2 + rng.uniform(-15, 15) * self.scale),
                int((self.h - th) / 2 + rng.uniform(-12, 12) * self.scale))
        hands = []
        for k in range(tray.hands):
            below = bool(k % 2 == 0) ^ bool(rng.random() < 0.3)
            layer, hw, hh = hand_layer(rng, self.scale, below)
            dx = rng.uniform(0.15, 0.85) * tw - hw / 2
            dy = (th * rng.uniform(0.35, 0.7)) if below else (th * rng.uniform(0.3, 0.65) - hh)
            t0 = tray.at + rng.uniform(0.0, 0.3)
            hands.append((layer, dx, dy, t0, tray.rest_t + rng.uniform(0.1, 0.3)))
        after = layout_after = fix_hand = None
        if tray.fix is not None:
            target = Counter({k: v for k, v in tray.fix.placed.items() if v > 0})
            layout_after = layout.with_counts(rng, target)
            after = Layer.of(layout_after.render(), self.scale, 6, 0.45)
            changed = [p for p in layout_after.items if p not in layout.items] or layout.items or layout.placed
            if changed:
                box = changed[0].box
                layer, hw, hh = hand_layer(rng, self.scale, True)
                fix_hand = (layer, (box[0] + box[2]) / 2 - hw / 2, (box[1] + box[3]) / 2 - hh * 0.1)
        return TrayRender(tray, before, after, layout, layout_after, rest, hands, fix_hand)

    def active(self, t: float) -> int | None:
        for i, tray in enumerate(self.loaded.scenario.trays):
            if tray.at <= t < tray.gone_t:
                return i
        return None

    def tray_x(self, r: TrayRender, t: float) -> int:
        """Horizontal position: slides in from the left, rests, slides out to the right."""
        tw = r.before.sprite.size[0]
        x_rest = r.rest_xy[0]
        if t < r.tray.rest_t:
            p = smoothstep((t - r.tray.at) / SLIDE_S)
            return int(round(-tw + (x_rest + tw) * p))
        if t >= r.tray.leave_t:
            p = smoothstep((t - r.tray.leave_t) / SLIDE_S)
            return int(round(x_rest + (self.w - x_rest) * p))
        return x_rest

    def fault_at(self, i: int) -> tuple[int, Fault] | None:
        """The camera fault of frame ``i`` and its first frame, if any."""
        for first, end, fault in self.faults:
            if first <= i < end:
                return first, fault
        return None

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as uint8 BGR (what the camera delivers). A freeze repeats its first frame
        exactly, noise included."""
        active = self.fault_at(i)
        if active is not None and active[1].kind == "freeze":
            first = active[0]
            if self._frozen is None or self._frozen[0] != first:
                self._frozen = (first, self._render(first, None))
            return self._frozen[1].copy()
        return self._render(i, active[1] if active else None)

    def _render(self, i: int, fault: Fault | None) -> np.ndarray:
        t = i / self.fps
        placements: list[tuple[Layer, int, int]] = []
        idx = self.active(t)
        if idx is not None:
            r = self._tray(idx)
            x, y = self.tray_x(r, t), r.rest_xy[1]
            fix_t = r.tray.rest_t + r.tray.fix.at if r.tray.fix else math.inf
            placements.append((r.after if (r.after is not None and t >= fix_t) else r.before, x, y))
            for layer, dx, dy, t0, t1 in r.hands:
                if t0 <= t < t1:
                    placements.append((layer, int(x + dx), int(y + dy)))
            if r.fix_hand is not None and abs(t - fix_t) <= FIX_HAND_S:
                layer, dx, dy = r.fix_hand
                lift = (abs(t - fix_t) / FIX_HAND_S) * layer.sprite.size[1] * 0.6
                placements.append((layer, int(x + dx), int(y + dy + lift)))
        s = self.loaded.scenario
        noise_key = [s.seed, 2, i] if self.draw == 0 else [s.seed, 2, i, self.draw]
        return degrade(compose(self.background, placements), s.camera, np.random.default_rng(noise_key), fault)

    def frames(self) -> Iterator[np.ndarray]:
        for i in range(self.n_frames):
            yield self.frame(i)


def render_shift(loaded: LoadedScenario, out: Path, progress=None, draw: int = 0) -> Path:
    """Write a recorded shift folder: scenario.yaml, video.mp4, pos.jsonl, truth.jsonl (and
    camera_truth.jsonl when the scenario has camera events).
    ``draw`` > 0 renders another draw of the camera noise (the same trays)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    renderer = ShiftRenderer(loaded, draw)
    s = loaded.scenario
    (out / "scenario.yaml").write_text(loaded.text)
    if s.menu != "default" and loaded.path is not None:
        src = (loaded.path.parent / s.menu).resolve()
        dst = out / s.menu
        if src != dst.resolve():
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(src.read_text())
    write_jsonl(out / "pos.jsonl", pos_events(loaded))
    write_jsonl(out / "truth.jsonl", truth_records(loaded))
    if s.camera_events:  # a shift without faults has no such file (and renders as before)
        write_jsonl(out / "camera_truth.jsonl", camera_truth_records(loaded))
    with VideoWriter(out / "video.mp4", renderer.w, renderer.h, renderer.fps) as vw:
        for frame in renderer.frames():
            vw.write(frame)
            if progress:
                progress(1)
    return out
