"""The layout and timeline of a stills shift: labelled photos as trays over an empty counter.

A site measures verdict accuracy on its own imagery before going live: every
labelled photo of a dataset split becomes a tray that slides into the check
zone over an empty counter, rests, and slides out. Each photo fills the frame
at rest, at its own size: the station's camera sees a tray as the camera that
took the photo saw it, so the detector gets the picture it would get in service
(a photo shrunk into the check zone of a 640-wide frame lost counts the model
makes on the photo itself). A labelled item whose centre lies outside the check
zone is reported (the pipeline would not count it). The empty
counter is a flat grey chosen to differ from the photos, so the gate sees the
arrival. Frames are a pure function of the photos and the settings; only the
mistakes draw from the seed. Writing the shift's files is ``stills.py``.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detectors.synth.scenario_schema import SLIDE_S
from detectors.synth.scene import smoothstep
from detectors.synth.stills_data import Photo, StillsDataset
from detectors.synth.stills_orders import SkuChoice, alter, derived_menu, menu_choice, mistake_trays
from detectors.synth.stills_tickets import Locator
from detectors.zone import Zone
from edge.errors import InvalidInput

LEAD_S = 1.0  # empty counter before the first tray: the gate learns the empty station
GAP_S = 1.0  # empty counter between a tray gone and the next one arriving
TAIL_S = 1.0
MAX_SIZE = (1920, 1080)  # a larger photo is scaled down to fit (H.264 level limits, decoding cost)
GREYS = (56, 128, 200)  # candidate empty-counter greys
PRESENCE_DELTA = 0.2  # a photo pixel this far (relative) from the grey counts as "something there"
Progress = Callable[[int], None] | None


@dataclass(frozen=True)
class StillsSettings:
    split: str = "val"
    menu: Path | None = None
    mistakes: float = 0.2
    seed: int = 0
    fps: int = 15
    rest: float = 3.0
    size: tuple[int, int] | None = None


@dataclass
class StillTray:
    photo: Photo
    at: float  # starts sliding in
    rest: float
    order: Counter[str]  # the visual items its POS order asks for
    mistake: str | None
    code_seen: bool = False  # a QR-like code located on the clean frame at rest (filled while rendering)
    ticket: str | None = None  # QR text the pipeline can read in the video (filled after encoding)
    order_id: str = ""

    @property
    def rest_t(self) -> float:
        return self.at + SLIDE_S

    @property
    def leave_t(self) -> float:
        return self.rest_t + self.rest

    @property
    def gone_t(self) -> float:
        return self.leave_t + SLIDE_S


def parse_size(text: str) -> tuple[int, int]:
    """``--size WxH``: even numbers (H.264 4:2:0), 160x120 to 1920x1080."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise InvalidInput(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 640x480")
    w, h = int(m[1]), int(m[2])
    if not (160 <= w <= 1920 and 120 <= h <= 1080) or w % 2 or h % 2:
        raise InvalidInput(f"--size {text!r}: width 160..1920 and height 120..1080, both even")
    return w, h


def frame_size(sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The photos' most common size (the first one met on a tie): the camera's own frame; scaled
    down to fit 1920x1080 and up to at least 160x120, both even (H.264 4:2:0)."""
    pw, ph = Counter(sizes).most_common(1)[0][0]
    s = min(1.0, MAX_SIZE[0] / pw, MAX_SIZE[1] / ph)
    s = max(s, 160 / pw, 120 / ph)
    return max(160, int(round(pw * s / 2)) * 2), max(120, int(round(ph * s / 2)) * 2)


def fit_rect(pw: int, ph: int, w: int, h: int) -> tuple[int, int, int, int]:
    """Where a pw x ph photo rests: as large as fits the frame, aspect kept, centred (a photo of the
    frame's own size fills it exactly)."""
    s = min(w / pw, h / ph)
    nw, nh = max(1, min(w, int(round(pw * s)))), max(1, min(h, int(round(ph * s))))
    return (w - nw) // 2, (h - nh) // 2, nw, nh


def choose_grey(thumbs: list[np.ndarray]) -> tuple[int, float]:
    """The empty-counter grey that the least distinct photo still differs from most, and that share."""
    best = (GREYS[0], -1.0)
    for g in GREYS:
        share = min(float((np.abs(t / g - 1.0) > PRESENCE_DELTA).mean()) for t in thumbs)
        if share > best[1]:
            best = (g, share)
    return best


def load_photo(photo: Photo) -> np.ndarray:
    img = cv2.imread(str(photo.path), cv2.IMREAD_COLOR)
    if img is None:
        raise InvalidInput(f"{photo.path}: cannot read it as an image")
    return img


class StillsShift:
    """The plan of a stills shift (validated up front) and its frames, one at a time."""

    def __init__(self, ds: StillsDataset, settings: StillsSettings, progress: Progress = None):
        self.ds, self.s = ds, settings
        self.choice = self._sku_choice()
        pool = [c for c in ds.names if c in self.choice.class_sku]
        sizes, thumbs = [], []
        for p in ds.photos:  # one pass over the photos: sizes for the frame, thumbnails for the grey
            img = load_photo(p)
            sizes.append((img.shape[1], img.shape[0]))
            thumbs.append(cv2.resize(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), (80, 60),
                                     interpolation=cv2.INTER_AREA).astype(np.float32))
            if progress:
                progress(1)
        self.sizes = sizes
        self.w, self.h = settings.size or frame_size(sizes)
        self.grey, self.grey_share = choose_grey(thumbs)
        self.fps = settings.fps
        wrong = mistake_trays(len(ds.photos), settings.mistakes, settings.seed)
        period = 2 * SLIDE_S + settings.rest + GAP_S
        self.trays: list[StillTray] = []
        for i, p in enumerate(ds.photos):
            placed = Counter(p.classes)
            order, kind = (alter(placed, pool, np.random.default_rng([settings.seed, 1, i]))
                           if i in wrong else (placed, None))
            self.trays.append(StillTray(p, LEAD_S + i * period, settings.rest, order, kind))
        self.duration = self.trays[-1].gone_t + TAIL_S
        self.n_frames = int(math.ceil(self.duration * self.fps))
        self._period = period
        self._cache: tuple[int, np.ndarray, tuple[int, int, int, int]] | None = None
        self._locate = Locator()

    def _sku_choice(self) -> SkuChoice:
        if self.s.menu is None:
            return derived_menu(self.ds.names, str(self.ds.yaml_path))
        needed: dict[str, str] = {}
        for p in self.ds.photos:
            for c in p.classes:
                needed.setdefault(c, p.name)
        return menu_choice(self.s.menu, needed)

    # -- frames --------------------------------------------------------------
    def empty(self) -> np.ndarray:
        return np.full((self.h, self.w, 3), self.grey, np.uint8)

    def _fitted(self, k: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """Tray k's photo resized to its resting place (and a first look for a QR ticket)."""
        if self._cache is None or self._cache[0] != k:
            img = load_photo(self.trays[k].photo)
            rect = fit_rect(img.shape[1], img.shape[0], self.w, self.h)
            interp = cv2.INTER_AREA if rect[2] < img.shape[1] else cv2.INTER_LINEAR
            img = cv2.resize(img, (rect[2], rect[3]), interpolation=interp)
            self._cache = (k, img, rect)
            at_rest = self.empty()
            at_rest[rect[1]:rect[1] + rect[3], rect[0]:rect[0] + rect[2]] = img
            self.trays[k].code_seen = self._locate(at_rest, Zone().bbox(self.w, self.h))
        return self._cache[1], self._cache[2]

    def active(self, t: float) -> int | None:
        k = int((t - LEAD_S) // self._period)
        if 0 <= k < len(self.trays) and self.trays[k].at <= t < self.trays[k].gone_t:
            return k
        return None

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` (BGR): the empty counter, with the photo of the tray in view, if any."""
        t = i / self.fps
        out = self.empty()
        k = self.active(t)
        if k is None:
            return out
        tray = self.trays[k]
        img, (ox, oy, nw, nh) = self._fitted(k)
        if t < tray.rest_t:  # slides in from the left, like a rendered tray
            x = int(round(-nw + (ox + nw) * smoothstep((t - tray.at) / SLIDE_S)))
        elif t >= tray.leave_t:
            x = int(round(ox + (self.w - ox) * smoothstep((t - tray.leave_t) / SLIDE_S)))
        else:
            x = ox
        a0, a1 = max(0, x), min(self.w, x + nw)
        if a0 < a1:
            out[oy:oy + nh, a0:a1] = img[:, a0 - x:a1 - x]
        return out
