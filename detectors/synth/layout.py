"""Arrange items, the ticket and clutter on a tray, and paint the loaded tray.

A TrayLayout keeps every placed object (sprite and position) so that a fix
while the tray rests can add or remove single items and leave the rest exactly
where it was, as a worker would.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from detectors.classes import CLASS_ID
from detectors.synth import props
from detectors.synth.items import PAINTERS
from detectors.synth.sprites import Sprite, alpha_box, darken, paste, rotate, soft_shadow

Rng = np.random.Generator
TRAY_W, TRAY_H = 500, 370  # at scale 1 (640x480 frame)
MARGIN = 14
MAX_OVERLAP = 0.08  # fraction of the smaller box two items may share


@dataclass(frozen=True, eq=False)  # identity: the same placed object, not equal pixels
class Placed:
    cls: str | None  # a visual class, or None for the ticket and clutter
    sprite: Sprite
    x: int
    y: int
    box: tuple[int, int, int, int]  # tight box in tray coordinates, exclusive max
    layer: int  # drawing order: 0 clutter, 1 ticket, 2 items


@dataclass
class TrayLayout:
    base: Sprite  # the empty tray
    placed: list[Placed] = field(default_factory=list)
    scale: float = 1.0
    item_scale: float = 1.0  # < 1 when a crowded tray needed smaller items to fit

    @property
    def items(self) -> list[Placed]:
        return [p for p in self.placed if p.cls is not None]

    def counts(self) -> Counter[str]:
        return Counter(p.cls for p in self.placed if p.cls is not None)

    def boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """Item boxes (N x 4 float32, tray coords) and class ids (N int)."""
        items = self.items
        xyxy = np.array([p.box for p in items], np.float32).reshape(-1, 4)
        ids = np.array([CLASS_ID[p.cls] for p in items if p.cls is not None], np.int64)
        return xyxy, ids

    def render(self) -> Sprite:
        """The loaded tray as one sprite (item shadows included)."""
        bgr = self.base.bgr.copy()
        alpha = self.base.alpha.copy()
        off = max(2, int(round(4 * self.scale)))
        for p in sorted(self.placed, key=lambda q: q.layer):
            sh, pad = soft_shadow(p.sprite.alpha, max(2, int(3 * self.scale)))
            darken(bgr, sh, p.x - pad + off, p.y - pad + off, 0.35 if p.layer == 2 else 0.15)
            paste(bgr, alpha, p.sprite, p.x, p.y)
        alpha = np.minimum(alpha, self.base.alpha)  # nothing hangs over the tray edge
        return Sprite(bgr, alpha)

    def _fits(self, box: tuple[int, int, int, int], layer: int) -> bool:
        x0, y0, x1, y1 = box
        w, h = self.base.size
        m = int(MARGIN * self.scale)
        if x0 < m or y0 < m or x1 > w - m or y1 > h - m:
            return False
        area = (x1 - x0) * (y1 - y0)
        for p in self.placed:
            if layer == 0 and p.layer == 0:
                continue
            if layer == 0 or p.layer == 0:
                continue  # clutter may lie under anything
            ix = min(x1, p.box[2]) - max(x0, p.box[0])
            iy = min(y1, p.box[3]) - max(y0, p.box[1])
            if ix > 0 and iy > 0:
                other = (p.box[2] - p.box[0]) * (p.box[3] - p.box[1])
                if ix * iy > MAX_OVERLAP * min(area, other):
                    return False
        return True

    def place(self, rng: Rng, cls: str | None, sprite: Sprite, layer: int, angle_range: float = 180.0) -> bool:
        """Put ``sprite`` at a random free spot (shrinking it a little if the tray is full)."""
        w, h = self.base.size
        s = self.scale * (self.item_scale if layer == 2 else 1.0)
        for attempt in range(4):
            sp = rotate(sprite, rng.uniform(-angle_range, angle_range), s * (0.94 ** attempt))
            b = alpha_box(sp.alpha)
            if b is None:
                return False
            sw, sh = sp.size
            for _ in range(150):
                x = int(rng.integers(0, max(1, w - sw)))
                y = int(rng.integers(0, max(1, h - sh)))
                box = (x + b[0], y + b[1], x + b[2], y + b[3])
                if self._fits(box, layer):
                    self.placed.append(Placed(cls, sp, x, y, box, layer))
                    return True
        return False

    def with_counts(self, rng: Rng, target: Counter[str]) -> "TrayLayout":
        """A copy where items are removed or added (keeping the others in place) to reach ``target``."""
        new = replace(self, placed=list(self.placed))
        have = new.counts()
        for cls in sorted(set(have) | set(target)):
            extra = have[cls] - target[cls]
            for _ in range(max(0, extra)):
                idx = max(i for i, p in enumerate(new.placed) if p.cls == cls)
                new.placed.pop(idx)
            for _ in range(max(0, -extra)):
                new.place(rng, cls, PAINTERS[cls](rng), 2)
        return new


def build_layout(rng: Rng, classes: list[str], ticket: str, order_id: str, clutter: int,
                 scale: float) -> TrayLayout:
    """A tray with ``classes`` (a list with repeats), a ticket of kind qr/none/damaged and clutter.

    A crowded tray is laid out again with slightly smaller items until all fit.
    """
    tw, th = TRAY_W * rng.uniform(0.97, 1.03), TRAY_H * rng.uniform(0.97, 1.03)
    base = rotate(props.tray(rng, tw, th), 0.0, scale)
    clutter_sprites = [props.clutter(rng) for _ in range(clutter)]
    with_ticket = ticket != "none" or rng.random() < 0.5  # without QR it is sometimes a plain receipt
    ticket_sprite = props.ticket(rng, order_id, ticket) if with_ticket else None
    painted = [(cls, PAINTERS[cls](rng)) for cls in classes]
    # big items first: they are the hardest to fit
    painted.sort(key=lambda cp: -cp[1].alpha.sum())
    for item_scale in (1.0, 0.93, 0.86, 0.8, 0.74, 0.68):
        layout = TrayLayout(base, scale=scale, item_scale=item_scale)
        for sp in clutter_sprites:
            layout.place(rng, None, sp, 0)
        if ticket_sprite is not None:
            layout.place(rng, None, ticket_sprite, 1, angle_range=20.0)
        if all(layout.place(rng, cls, sp, 2) for cls, sp in painted):
            return layout
    raise RuntimeError(f"could not fit {len(classes)} items on the tray")
