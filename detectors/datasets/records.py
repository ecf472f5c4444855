"""What every reader returns: one labelled image, and the problems found on the way.

Boxes are kept in source pixels (xyxy) with class *names*, so readers of
different formats meet in one shape and class mapping happens in one place.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class LabelledImage:
    """One photo and its boxes (pixels, xyxy) with the class name of each box."""

    path: Path
    xyxy: np.ndarray  # (n, 4) float32, pixels of the source image
    names: list[str]
    size: tuple[int, int] | None = None  # (width, height) when the label file states it (COCO, VOC)
    normalized: bool = False  # YOLO: boxes in 0..1 of the image, converted once the image is read

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, np.float32).reshape(-1, 4)


@dataclass(frozen=True)
class Problem:
    """Something skipped: which file, what was wrong, and whether the whole image was dropped."""

    file: str
    reason: str
    image_dropped: bool = False


@dataclass
class Source:
    """A parsed export: its format, class names in source order, the images and the problems."""

    format: str
    classes: list[str]
    images: list[LabelledImage] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
