"""The ten visual classes and the painter that draws each top-down as a Sprite.

The painters live by kind: the mains (``mains``: the confusable pairs of a real
counter) and the sides, drinks and extras (``sides``). Every call draws a new
instance (pose, size and colour jitter come from ``rng``). Sizes are in pixels of
a 640x480 frame and scaled by the caller.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from detectors.synth.mains import burger, cheeseburger, chicken_sandwich, wrap
from detectors.synth.sides import dessert, drink, fries, nuggets, salad, sauce
from detectors.synth.sprites import Sprite

PAINTERS: dict[str, Callable[[np.random.Generator], Sprite]] = {
    "burger": burger,
    "cheeseburger": cheeseburger,
    "chicken_sandwich": chicken_sandwich,
    "wrap": wrap,
    "fries": fries,
    "nuggets": nuggets,
    "salad": salad,
    "drink": drink,
    "dessert": dessert,
    "sauce": sauce,
}
