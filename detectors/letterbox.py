"""Letterbox a frame into the detector's input tensor, as ultralytics does.

Same arithmetic as ultralytics' ``LetterBox`` (scale to fit, centre, pad with
114) so the ONNX backend sees exactly the pixels ``predict`` sees; the padded
canvas is allocated once per input shape and reused.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Geometry:
    """Where a frame lands in the input: ``input = frame * scale + (left, top)``."""

    scale: float
    left: int
    top: int
    new_w: int
    new_h: int


def geometry(frame_hw: tuple[int, int], input_hw: tuple[int, int]) -> Geometry:
    h, w = frame_hw
    H, W = input_hw
    r = min(H / h, W / w)
    new_w, new_h = int(round(w * r)), int(round(h * r))
    dw, dh = (W - new_w) / 2, (H - new_h) / 2
    return Geometry(r, int(round(dw - 0.1)), int(round(dh - 0.1)), new_w, new_h)


class Letterboxer:
    """Frame (BGR uint8) -> NCHW float32 RGB 0..1 tensor of a fixed input shape."""

    def __init__(self, input_hw: tuple[int, int]):
        self.input_hw = input_hw
        self._canvas = np.full((*input_hw, 3), 114, np.uint8)
        self._geo: Geometry | None = None
        self._frame_hw: tuple[int, int] | None = None

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, Geometry]:
        hw = frame.shape[:2]
        if hw != self._frame_hw:
            self._frame_hw, self._geo = hw, geometry(hw, self.input_hw)
            self._canvas[:] = 114
        g = self._geo
        assert g is not None
        roi = self._canvas[g.top:g.top + g.new_h, g.left:g.left + g.new_w]
        if (g.new_w, g.new_h) == (hw[1], hw[0]):
            roi[:] = frame
        else:
            roi[:] = cv2.resize(frame, (g.new_w, g.new_h), interpolation=cv2.INTER_LINEAR)
        blob = cv2.dnn.blobFromImage(self._canvas, 1 / 255.0, swapRB=True)
        return blob, g
