"""One video frame as the pipeline sees it (its own module: every source kind makes them)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    index: int  # frames delivered by this source so far (not counting skipped ones)
    t: float  # stream time, seconds; never goes back for one camera, even across reopens
    image: np.ndarray  # BGR uint8
