"""The mains, painted top-down: burger, cheeseburger, chicken sandwich, wrap.

These are the look-alike pairs of a real counter, so they share parts on purpose: a
cheeseburger is a burger's bun plus the corners of a cheese slice showing under it; a
chicken sandwich and a wrap are both long, pale and golden. Every call draws a new
instance from ``rng``; sizes are in pixels of a 640x480 frame.
"""
from __future__ import annotations

import numpy as np

from detectors.synth.sprites import Canvas, Sprite, jitter_color, rounded_rect_pts, texture

Rng = np.random.Generator


def _bun(c: Canvas, rng: Rng, cx: float, cy: float, r: float, seeds: bool) -> None:
    crust = jitter_color(rng, (40, 110, 185), 14)
    c.circle((cx, cy), r, crust)
    top = tuple(min(255.0, v * 1.18 + 8) for v in crust)
    c.ellipse((cx - r * 0.12, cy - r * 0.12), (r * 0.72, r * 0.68), rng.uniform(0, 180), top, cover=False)
    hi = tuple(min(255.0, v * 1.35 + 20) for v in crust)
    c.ellipse((cx - r * 0.3, cy - r * 0.3), (r * 0.28, r * 0.18), -40, hi, cover=False)
    if seeds:
        for _ in range(int(rng.integers(14, 26))):
            a, d = rng.uniform(0, 2 * np.pi), r * np.sqrt(rng.uniform(0, 0.7))
            c.ellipse((cx + d * np.cos(a), cy + d * np.sin(a)), (r * 0.06, r * 0.035),
                      rng.uniform(0, 180), (190, 225, 240), cover=False)


def _lettuce_rim(c: Canvas, rng: Rng, cx: float, cy: float, r: float) -> None:
    green = jitter_color(rng, (60, 170, 90), 10)
    for a in np.linspace(0, 2 * np.pi, int(rng.integers(9, 14)), endpoint=False):
        a += rng.uniform(-0.15, 0.15)
        c.circle((cx + r * np.cos(a), cy + r * np.sin(a)), r * rng.uniform(0.1, 0.16), green)


def burger(rng: Rng) -> Sprite:
    r = rng.uniform(40, 47)
    size = int(2 * r * 1.25)
    c = Canvas(size, size)
    cx = cy = size / 2
    _lettuce_rim(c, rng, cx, cy, r * 1.0)
    c.circle((cx, cy), r * 1.04, jitter_color(rng, (40, 60, 95), 8))  # patty edge
    _bun(c, rng, cx, cy, r, seeds=True)
    sp = c.sprite()
    texture(rng, sp, 6)
    return sp


def cheeseburger(rng: Rng) -> Sprite:
    r = rng.uniform(40, 47)
    size = int(2 * r * 1.5)
    c = Canvas(size, size)
    cx = cy = size / 2
    cheese = jitter_color(rng, (20, 190, 252), 8)
    side = r * rng.uniform(1.78, 1.9)
    a0 = rng.uniform(0, np.pi / 2)
    corners = [(cx + side / np.sqrt(2) * np.cos(a0 + k * np.pi / 2),
                cy + side / np.sqrt(2) * np.sin(a0 + k * np.pi / 2)) for k in range(4)]
    c.poly(corners, cheese)
    # melted drips at the corners
    for x, y in corners:
        c.circle(((x + cx) / 2 * 0.2 + x * 0.8, (y + cy) / 2 * 0.2 + y * 0.8), r * 0.12, cheese)
    c.circle((cx, cy), r * 1.03, jitter_color(rng, (40, 60, 95), 8))
    _bun(c, rng, cx, cy, r, seeds=bool(rng.random() < 0.5))
    sp = c.sprite()
    texture(rng, sp, 6)
    return sp


def chicken_sandwich(rng: Rng) -> Sprite:
    rx, ry = rng.uniform(54, 62), rng.uniform(33, 38)
    w, h = int(rx * 2.5), int(ry * 2.6)
    c = Canvas(w, h)
    cx, cy = w / 2, h / 2
    breading = jitter_color(rng, (30, 105, 175), 12)
    for a in np.linspace(0, 2 * np.pi, 16, endpoint=False):  # crispy fillet edge sticking out
        px, py = cx + rx * 1.04 * np.cos(a), cy + ry * 1.08 * np.sin(a)
        c.circle((px, py), ry * rng.uniform(0.18, 0.28), breading)
    c.ellipse((cx, cy), (rx * 1.04, ry * 1.06), 0, breading)
    bun = jitter_color(rng, (95, 175, 225), 10)
    c.ellipse((cx, cy), (rx * 0.93, ry * 0.9), 0, bun)
    c.ellipse((cx - rx * 0.15, cy - ry * 0.2), (rx * 0.55, ry * 0.4), 0,
              tuple(min(255.0, v * 1.12) for v in bun), cover=False)
    for _ in range(int(rng.integers(3, 6))):  # flour dusting / score marks
        x = cx + rng.uniform(-0.6, 0.6) * rx
        c.line((x, cy - ry * 0.5), (x + rng.uniform(-6, 6), cy + ry * 0.5), (150, 200, 235), 1)
    sp = c.sprite()
    texture(rng, sp, 7)
    return sp


def wrap(rng: Rng) -> Sprite:
    L, W = rng.uniform(118, 132), rng.uniform(44, 52)
    w, h = int(L + 12), int(W + 12)
    c = Canvas(w, h)
    x0, y0, x1, y1 = 6, 6, 6 + L, 6 + W
    tortilla = jitter_color(rng, (150, 205, 230), 8)
    c.poly(rounded_rect_pts(x0, y0, x1, y1, W * 0.48), tortilla)
    for _ in range(int(rng.integers(8, 14))):  # grill spots
        c.ellipse((rng.uniform(x0 + 8, x1 - 8), rng.uniform(y0 + 6, y1 - 6)),
                  (rng.uniform(2, 5), rng.uniform(1.5, 3)), rng.uniform(0, 180), (70, 130, 175), cover=False)
    # the paper band around one half
    band = (255, 250, 245) if rng.random() < 0.5 else jitter_color(rng, (200, 225, 240), 8)
    bx0 = x0 + L * rng.uniform(0.45, 0.55)
    c.poly(rounded_rect_pts(bx0, y0 - 1, x1 + 1, y1 + 1, W * 0.45), band)
    stripe = jitter_color(rng, (40, 40, 200), 20)
    for k in range(3):
        xx = bx0 + 10 + k * 12
        c.line((xx, y0 + 2), (xx + 6, y1 - 2), stripe, 2)
    sp = c.sprite()
    texture(rng, sp, 5)
    return sp
