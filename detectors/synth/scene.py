"""Compose one camera frame: counter, the tray at some position, hands on top."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors.synth import props
from detectors.synth.sprites import Sprite, darken, paste, rotate, soft_shadow


@dataclass
class Layer:
    """A sprite with its precomputed soft shadow, ready to be placed many times."""

    sprite: Sprite
    shadow: np.ndarray
    pad: int
    offset: tuple[int, int]
    strength: float

    @classmethod
    def of(cls, sprite: Sprite, scale: float, height: float, strength: float) -> "Layer":
        """``height``: how far above the surface it floats (px at scale 1): longer, softer shadow."""
        sh, pad = soft_shadow(sprite.alpha, max(2, int(height * scale * 0.8)))
        off = int(round(height * scale * 0.6))
        return cls(sprite, sh, pad, (off, int(off * 1.3)), strength)

    def draw(self, frame: np.ndarray, x: int, y: int) -> tuple[int, int, int, int] | None:
        darken(frame, self.shadow, x - self.pad + self.offset[0], y - self.pad + self.offset[1], self.strength)
        return paste(frame, None, self.sprite, x, y)


def compose(background: np.ndarray, placements: list[tuple[Layer, int, int]]) -> np.ndarray:
    """A float32 frame with each layer drawn (in order) at its top-left position."""
    frame = background.copy()
    for layer, x, y in placements:
        layer.draw(frame, x, y)
    return frame


def smoothstep(p: float) -> float:
    p = min(1.0, max(0.0, p))
    return p * p * (3 - 2 * p)


def hand_layer(rng: np.random.Generator, scale: float, from_below: bool) -> tuple[Layer, int, int]:
    """A worker's hand reaching in from below (or above): its layer and its size in pixels."""
    angle = rng.uniform(60, 120) if from_below else rng.uniform(-120, -60)
    sp = rotate(props.hand(rng), angle, scale)
    return Layer.of(sp, scale, 14, 0.35), sp.size[0], sp.size[1]
