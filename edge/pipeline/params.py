"""The pipeline's thresholds: one frozen dataclass per camera (the config may override any
field per camera, ``cameras[i].pipeline`` and ``cameras[i].tray``)."""
from __future__ import annotations

from dataclasses import dataclass

from edge.pipeline.tray import TrayParams

DEFAULT_MIN_CONFIDENCE = 0.45


@dataclass(frozen=True)
class PipelineParams:
    min_confidence: float | None = None  # detections below this do not count as items; None: the model's
    # own thresholds per class ('class_conf' in its metadata, chosen for counting at export), else its
    # operating threshold ('operating_conf': the one its count accuracy was measured at), else
    # DEFAULT_MIN_CONFIDENCE. A camera's configured value beats the model's.
    merged_overlap: float = 0.8  # a box this much over a stronger same-class box is a duplicate
    cross_class_iou: float = 0.7  # a box this close to a stronger box of another class is the same item
    settled_stride: int = 3  # a checked tray lying still: detect on every n-th frame only (motion: every frame)
    ticket_tries: int = 5  # frames tried for a QR code per tray...
    ticket_stride: int = 2  # ...every n-th frame: a try costs 20-50 ms, and 8 tries in a row (67 ms a frame at
    # 15 fps) made a camera with a ticketless tray fall behind when eight stations shared two cores. 5 tries 2
    # frames apart end about when 8 in a row did, so a ticketless tray gets its nearest order as early as before
    ticket_wait_s: float = 0.6  # after rest: how long a tray waits for its QR before the nearest order
    no_order_after_s: float = 3.5  # after rest: say "no order" if none could be associated by then (POS
    # messages come up to 4 s after the tray arrives, 3 s after rest: saying "no order" before would be wrong)
    plausible_errors: int = 2  # a ticketless tray's nearest order: within this many kitchen mistakes
    fifo_window: int = 6  # a ticketless tray's nearest order: among this many of the oldest pending orders
    mismatch_confirm_s: float = 0.5  # a first mismatch waits this long after rest (a hand may hide an item)
    tray: TrayParams = TrayParams()
