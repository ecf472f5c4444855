"""Everything in the scene that is not a menu item: the counter, the tray, the
printed ticket with its QR code, clutter and the worker's hands."""
from __future__ import annotations

import cv2
import numpy as np

from detectors.synth.sprites import Canvas, Sprite, jitter_color, rounded_rect_pts, texture

Rng = np.random.Generator

TRAY_COLORS = [(40, 60, 120), (50, 50, 150), (60, 90, 60), (70, 70, 70), (30, 80, 140), (110, 70, 40)]
SKIN = [(150, 180, 225), (110, 145, 200), (80, 110, 160), (60, 80, 120), (170, 195, 235)]
SLEEVES = [(40, 40, 40), (30, 30, 160), (120, 60, 20), (200, 200, 200), (40, 100, 40)]


def background(rng: Rng, w: int, h: int) -> np.ndarray:
    """A brushed stainless-steel counter with a taped check zone and uneven light."""
    base = rng.uniform(120, 175)
    tint = rng.normal(0, 6, 3)
    img = np.empty((h, w, 3), np.float32)
    img[:] = base + tint
    streak: np.ndarray = rng.normal(0, 10, (h, 1)).astype(np.float32)
    streak = cv2.GaussianBlur(streak, (1, 5), 0)
    grain: np.ndarray = rng.normal(0, 4, (h, w)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (9, 1), 0)
    img += (streak + grain)[..., None]
    # light falloff towards the corners, brighter spot at a random place
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lx, ly = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
    d = np.sqrt(((xx - lx) / w) ** 2 + ((yy - ly) / h) ** 2)
    img *= (1.12 - 0.35 * d)[..., None]
    # yellow tape marking the check zone
    s = min(w / 640, h / 480)
    m = int(40 * s)
    tape = (40, 190, 230)
    cv2.rectangle(img, (m, m), (w - m, h - m), tape, max(2, int(6 * s)), cv2.LINE_AA)
    return np.clip(img, 0, 255)


def tray(rng: Rng, w: float, h: float) -> Sprite:
    """A plastic serving tray (rounded rectangle with a raised rim), optionally with a paper liner."""
    c = Canvas(int(w), int(h))
    color = jitter_color(rng, TRAY_COLORS[int(rng.integers(0, len(TRAY_COLORS)))], 10)
    c.poly(rounded_rect_pts(0, 0, w - 1, h - 1, 22), tuple(v * 0.8 for v in color))
    c.poly(rounded_rect_pts(8, 8, w - 9, h - 9, 16), color, cover=False)
    if rng.random() < 0.35:  # paper tray liner with a print
        liner = jitter_color(rng, (225, 235, 240), 6)
        c.poly(rounded_rect_pts(24, 20, w - 25, h - 21, 6), liner, cover=False)
        ink = jitter_color(rng, (60, 60, 180), 30)
        for _ in range(4):  # printed wavy stripes and a wordmark: paper, not food
            y = rng.uniform(40, h - 40)
            xs = np.linspace(30, w - 30, 24)
            pts = np.stack([xs, y + 6 * np.sin(xs / 18 + rng.uniform(0, 6))], axis=1)
            cv2.polylines(c.bgr, [pts.astype(np.int32)], False, ink, 2, cv2.LINE_AA)
        _text_lines(c, rng, w * 0.3, h * 0.45, w * 0.7, 2, 8)
    sp = c.sprite()
    texture(rng, sp, 3, blur=2)
    return sp


def _text_lines(c: Canvas, rng: Rng, x0: float, y0: float, x1: float, n: int, gap: float) -> None:
    for k in range(n):
        y = y0 + k * gap
        x = x0
        while x < x1 - 6:
            ln = rng.uniform(4, 14)
            c.line((x, y), (min(x + ln, x1), y), (70, 70, 70), 1)
            x += ln + rng.uniform(2, 5)


def ticket(rng: Rng, order_id: str, kind: str) -> Sprite:
    """The printed order ticket: text lines and, unless ``kind`` is none, a QR code.

    ``damaged``: the QR is there but unreadable (torn corner and a stain over
    two finder patterns), as happens with wet or crumpled paper.
    """
    w, h = int(rng.uniform(92, 100)), int(rng.uniform(118, 128))
    c = Canvas(w, h)
    paper = jitter_color(rng, (238, 242, 245), 5)
    c.rect(0, 0, w - 1, h - 1, paper)
    _text_lines(c, rng, 8, 8, w - 8, 3, 5)
    if kind == "none":
        _text_lines(c, rng, 8, 30, w - 8, 14, 6)
    else:
        qr = cv2.QRCodeEncoder.create().encode(order_id)
        side = 75
        q = cv2.resize(qr, (side, side), interpolation=cv2.INTER_NEAREST).astype(np.float32)
        qx, qy = (w - side) // 2, 26
        c.bgr[qy:qy + side, qx:qx + side] = q[..., None] * (np.array(paper) / 255.0)
        _text_lines(c, rng, 8, qy + side + 6, w - 8, 3, 5)
        if kind == "damaged":
            stain = (60, 100, 140)
            mod = side / qr.shape[0]
            # finder patterns sit in three corners of the code: cover two of them
            for fx, fy in ((qx + 5.5 * mod, qy + 5.5 * mod), (qx + side - 5.5 * mod, qy + side - 5.5 * mod)):
                fx, fy = (fx, qy + side - 5.5 * mod) if rng.random() < 0.5 and fy > qy + side / 2 else (fx, fy)
                c.ellipse((fx, fy), (side * 0.2, side * 0.17), rng.uniform(0, 180), stain, cover=False)
            c.bgr[qy + side // 2 - 3:qy + side // 2 + 3, qx:qx + side] = paper  # crease through the code
            tear = [(w, 0), (w * 0.55, 0), (w, h * 0.3)]
            cv2.fillPoly(c.mask, [np.array(tear, np.int32)], 0.0)
    sp = c.sprite()
    texture(rng, sp, 2)
    return sp


def clutter(rng: Rng) -> Sprite:
    """A non-menu object: a napkin, a straw wrapper or a coupon slip."""
    kind = int(rng.integers(0, 3))
    if kind == 0:  # crumpled napkin
        r = rng.uniform(26, 36)
        c = Canvas(int(3 * r), int(3 * r))
        pts = [(1.5 * r + r * rng.uniform(0.7, 1.3) * np.cos(a), 1.5 * r + r * rng.uniform(0.7, 1.3) * np.sin(a))
               for a in np.linspace(0, 2 * np.pi, 11, endpoint=False)]
        c.poly(pts, jitter_color(rng, (235, 238, 240), 6))
        for _ in range(5):
            a = rng.uniform(0, 2 * np.pi)
            c.line((1.5 * r, 1.5 * r), (1.5 * r + r * np.cos(a), 1.5 * r + r * np.sin(a)), (200, 205, 210), 1)
    elif kind == 1:  # straw wrapper
        L = rng.uniform(70, 100)
        c = Canvas(int(L + 6), 14)
        c.rect(3, 4, L, 10, (240, 240, 240))
        c.line((10, 7), (L - 10, 7), jitter_color(rng, (60, 60, 200), 30), 1)
    else:  # coupon slip, printed but without a QR code
        w, h = rng.uniform(50, 70), rng.uniform(30, 40)
        c = Canvas(int(w), int(h))
        c.rect(0, 0, w - 1, h - 1, jitter_color(rng, (210, 240, 250), 8))
        _text_lines(c, rng, 5, 6, w - 5, 4, 6)
    return c.sprite()


def hand(rng: Rng) -> Sprite:
    """A worker's hand and forearm, pointing right (rotate to reach from any side)."""
    L = rng.uniform(210, 260)
    c = Canvas(int(L + 60), 120)
    cy = 60
    skin = jitter_color(rng, SKIN[int(rng.integers(0, len(SKIN)))], 8)
    if rng.random() < 0.5:  # disposable glove
        skin = jitter_color(rng, [(200, 120, 40), (40, 40, 40), (230, 230, 230)][int(rng.integers(0, 3))], 8)
    sleeve = jitter_color(rng, SLEEVES[int(rng.integers(0, len(SLEEVES)))], 10)
    c.rect(0, cy - 26, L * 0.55, cy + 26, sleeve)
    c.poly([(L * 0.5, cy - 20), (L * 0.8, cy - 24), (L * 0.8, cy + 24), (L * 0.5, cy + 20)], skin)
    c.ellipse((L * 0.84, cy), (30, 28), 0, skin)  # palm
    for k, (dy, ln) in enumerate(((-19, 34), (-7, 40), (5, 38), (16, 30))):
        c.ellipse((L * 0.84 + 22 + ln / 2, cy + dy), (ln / 2, 6), rng.uniform(-6, 6), skin)
    c.ellipse((L * 0.84 + 5, cy - 32), (18, 7), -50, skin)  # thumb
    sp = c.sprite()
    texture(rng, sp, 4)
    return sp
