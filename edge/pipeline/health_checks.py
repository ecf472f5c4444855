"""The camera health checks: one idle frame against the reference view; no state, timing or storage.

Pure functions: a low-resolution grey frame (``reference_view.small_grey``) and the
reference in, one ``Reading`` (level + reason) per check out. The state machine that
turns readings into raised and cleared faults is ``camera_health``.

What each check looks at (all on the 160x120 grey frame):

* structure: the frame's high-pass detail (grey minus a 9x9 box blur) compared with the
  reference's, as one correlation over the view and, per 8x8 block, whether the detail
  is gone. A kitchen counter is low in texture, so raw uniformity says little; that the
  counter's own fine pattern (streaks, tape edges) disappeared says a lot;
* covered: most blocks lost their detail and the view no longer correlates with the
  reference (a dimmer view keeps its pattern: that is ``dark``, not covered);
* dark / overexposed: mean brightness against the reference's (plus clipped pixels);
* blurred: sharpness (variance of the Laplacian at normalised brightness) against the
  reference's;
* moved: the view does not line up with the reference but does once shifted/rotated by
  the transform of the ORB keypoint matches (or, in a scene with too few keypoints, by
  phase correlation) - a transform that does not realign the view is not a move (a tray
  or a person in view);
* frozen (``frame_change``): mean absolute change between two consecutive full frames,
  sampled on every 4th pixel of one channel.

A check that an earlier one explains is not judged: a view whose coarse layout still
lines up is judged dark/overexposed, then blurred; one whose layout is gone is covered
(a covered view is also dark and soft); a sharp, well-lit view is judged moved.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.pipeline.reference_view import HEALTH_SIZE, ReferenceView, brightness, keypoints, sharpness

CHECKS = ("covered", "dark", "overexposed", "blurred", "moved", "frozen", "no_frames")
OK, WARNING, FAULT = "ok", "warning", "fault"
STATES = (OK, WARNING, FAULT)  # index = level

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Reading:
    """One check's condition on one sample: 0 ok, 1 warning, 2 fault."""

    level: int
    reason: str = ""


@dataclass(frozen=True)
class Thresholds:
    covered: tuple[float, float] = (0.5, 0.7)  # share of the view without its detail: warning, fault
    unaligned: float = 0.6  # structure correlation below this: the view does not line up
    layout: float = 0.8  # coarse (40x30) correlation at or above this: the scene is still there
    realigned: float = 0.45  # a moved view lines up at least this well once moved back (warping and noise
    realign_gain: float = 0.3  # cost some: 0.5-0.65 for a knocked camera) and at least this much better
    dark: tuple[float, float] = (0.65, 0.5)  # brightness / reference below: warning, fault
    bright: tuple[float, float] = (1.3, 1.6)  # brightness / reference above: warning, fault
    clipped: tuple[float, float] = (0.2, 0.4)  # extra share of clipped (>= 250) pixels: warning, fault
    blurred: tuple[float, float] = (0.6, 0.4)  # sharpness / reference below: warning, fault
    shift: tuple[float, float] = (0.025, 0.04)  # shift as a share of the frame width: warning, fault
    rotation: tuple[float, float] = (2.0, 3.0)  # degrees: warning, fault
    frozen_change: float = 0.04  # mean |change| (grey levels) between consecutive frames: identical (a
    # repeated picture through H.264 still changes by up to ~0.03; the noisy fixtures never below 0.065)


def _detail(grey: U8) -> F32:
    g = grey.astype(np.float32)
    return np.asarray(g - cv2.blur(g, (9, 9)), np.float32)


def _block_std(x: F32) -> F32:
    w, h = HEALTH_SIZE
    return np.asarray(x.reshape(h // 8, 8, w // 8, 8).std(axis=(1, 3)), np.float32)


def _corr(a: F32, b: F32) -> float:
    a = a - a.mean()
    b = b - b.mean()
    return float((a * b).sum() / np.sqrt(float((a * a).sum()) * float((b * b).sum()) + 1e-6))


_BF = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
_WINDOW = cv2.createHanningWindow(HEALTH_SIZE, cv2.CV_32F)


def _phase_shift(a: F32, b: F32) -> tuple[float, float]:
    """Shift of ``b`` against ``a`` by phase correlation. On copies: with a window, OpenCV
    multiplies its inputs in place, which silently spoiled every later use of the reference."""
    (dx, dy), _ = cv2.phaseCorrelate(a.copy(), b.copy(), _WINDOW)
    return float(dx), float(dy)


def _orb_transform(grey: U8, ref: ReferenceView) -> npt.NDArray[np.float64] | None:
    """The 2x3 similarity transform taking the reference onto ``grey`` from ORB matches, if enough agree."""
    pts, desc = keypoints(grey)
    if len(ref.points) < 8 or len(pts) < 8:
        return None
    matches = _BF.match(ref.descriptors, desc)
    if len(matches) < 8:
        return None
    a = ref.points[[m.queryIdx for m in matches]]
    b = pts[[m.trainIdx for m in matches]]
    m, inliers = cv2.estimateAffinePartial2D(a, b, method=cv2.RANSAC, ransacReprojThreshold=2.0)
    if m is None or int(inliers.sum()) < 8:
        return None
    return np.asarray(m, np.float64)


def _realigned(grey: U8, m: npt.NDArray[np.float64]) -> U8:
    w, h = HEALTH_SIZE
    return np.asarray(cv2.warpAffine(grey, cv2.invertAffineTransform(m), (w, h), borderMode=cv2.BORDER_REPLICATE),
                      np.uint8)


def _candidates(grey: U8, ref: ReferenceView, ref_detail: F32) -> list[npt.NDArray[np.float64]]:
    """Transforms that may take the reference onto ``grey``: the ORB matches' (when the scene has
    enough keypoints), and for a low-texture counter a small search: turned by a few degrees each
    way, the shift from phase correlation of the detail images."""
    out = []
    if (m := _orb_transform(grey, ref)) is not None:
        out.append(m)
    w, h = HEALTH_SIZE
    for angle in _ANGLES:
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        turned = np.asarray(cv2.warpAffine(grey, cv2.invertAffineTransform(rot), (w, h),
                                           borderMode=cv2.BORDER_REPLICATE), np.uint8)
        dx, dy = _phase_shift(ref_detail, _detail(turned))
        m = rot.astype(np.float64)
        m[:, 2] += m[:, :2] @ np.array([dx, dy])
        out.append(m)
    return out


_ANGLES = (0.0, -1.5, 1.5, -3.0, 3.0, -4.5, 4.5, -6.0, 6.0, -8.0, 8.0)


def _moved(grey: U8, ref: ReferenceView, ref_detail: F32, corr: float, th: Thresholds) -> Reading:
    w, h = HEALTH_SIZE
    dx, dy = _phase_shift(ref_detail, _detail(grey))
    if corr >= th.unaligned and float(np.hypot(dx, dy)) < th.shift[0] * w:
        return Reading(0)  # lines up, not shifted (a shift along the counter's streaks keeps much of the detail)
    best, m = max(((_corr(_detail(_realigned(grey, m)), ref_detail), m)
                   for m in _candidates(grey, ref, ref_detail)), key=lambda c: c[0])
    if best < th.realigned or best < corr + th.realign_gain:
        return Reading(0)  # no transform lines it up clearly better: something in view, not a moved camera
    centre = m @ np.array([w / 2, h / 2, 1.0])  # where the view's centre went
    shift = float(np.hypot(centre[0] - w / 2, centre[1] - h / 2)) / w
    angle = abs(float(np.degrees(np.arctan2(m[1, 0], m[0, 0]))))
    level = 2 if shift >= th.shift[1] or angle >= th.rotation[1] else \
        1 if shift >= th.shift[0] or angle >= th.rotation[0] else 0
    return Reading(level, f"the view is shifted by {shift * 100:.0f} % of its width and turned by {angle:.1f}°")


def _coarse(grey: U8) -> F32:
    return np.asarray(cv2.resize(grey, (HEALTH_SIZE[0] // 4, HEALTH_SIZE[1] // 4), interpolation=cv2.INTER_AREA),
                      np.float32)


def _light_or_soft(ratio: float, clipped: float, sharp: float, th: Thresholds) -> tuple[str, Reading] | None:
    """dark, overexposed or blurred, in that order, from brightness, clipping and sharpness."""
    if ratio < th.dark[0]:
        return "dark", Reading(2 if ratio < th.dark[1] else 1, f"brightness {ratio * 100:.0f} % of the reference")
    if ratio > th.bright[0] or clipped > th.clipped[0]:
        level = 2 if ratio > th.bright[1] or clipped > th.clipped[1] else 1
        return "overexposed", Reading(level, f"brightness {ratio * 100:.0f} % of the reference, "
                                             f"{max(clipped, 0.0) * 100:.0f} % more of the view white")
    if sharp < th.blurred[0]:
        return "blurred", Reading(2 if sharp < th.blurred[1] else 1, f"sharpness {sharp * 100:.0f} % of the reference")
    return None


def check_view(grey: U8, ref: ReferenceView, th: Thresholds = Thresholds()) -> dict[str, Reading]:
    """Readings of covered, dark, overexposed, blurred and moved for one idle frame.

    A dark, washed-out or soft view has lost its fine detail too, but its coarse layout
    (the counter, the zone's edges, the floor at 40x30) still lines up with the reference:
    those are judged first, and only a view whose layout is gone as well is ``covered``.
    """
    out = {name: Reading(0) for name in ("covered", "dark", "overexposed", "blurred", "moved")}
    ratio = brightness(grey) / max(ref.brightness, 1.0)
    clipped = float((grey >= 250).mean()) - float((ref.grey >= 250).mean())
    sharp = sharpness(grey) / max(ref.sharpness, 1e-6)
    light = _light_or_soft(ratio, clipped, sharp, th)
    if light is not None and _corr(_coarse(grey), _coarse(ref.grey)) >= th.layout:
        out[light[0]] = light[1]
        return out
    detail, ref_detail = _detail(grey), _detail(ref.grey)
    corr = _corr(detail, ref_detail)
    lost = float((_block_std(detail) < 0.5 * _block_std(ref_detail)).mean())
    if corr < th.unaligned and lost >= th.covered[0]:
        out["covered"] = Reading(2 if lost >= th.covered[1] else 1, f"{lost * 100:.0f} % of the view is uniform")
        return out
    if light is not None:  # its layout gone too, but not covered (a dark cloth over the lens reads as covered)
        out[light[0]] = light[1]
        return out
    out["moved"] = _moved(grey, ref, ref_detail, corr, th)
    return out


def frame_change(a: U8, b: U8) -> float:
    """Mean absolute change between two frames of one camera (every 4th pixel, one channel):
    0 for a repeated frame; a live sensor's noise alone gives more than a few hundredths."""
    if a.shape != b.shape:
        return 255.0
    sa, sb = (a[::4, ::4, 1], b[::4, ::4, 1]) if a.ndim == 3 else (a[::4, ::4], b[::4, ::4])
    return float(cv2.absdiff(sa, sb).mean())


def check_frozen(change: float, th: Thresholds = Thresholds()) -> Reading:
    if change < th.frozen_change:
        return Reading(2, f"the picture has not changed (mean change {change:.3f} grey levels)")
    return Reading(0)
