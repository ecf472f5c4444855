"""The sides, drinks and extras, painted top-down: fries, nuggets, salad, drink, dessert, sauce.

Each has a shape of its own (carton, box, bowl, cup, tub) so that only the mains carry
the look-alike pairs. Every call draws a new instance from ``rng``; sizes are in pixels
of a 640x480 frame.
"""
from __future__ import annotations

import numpy as np

from detectors.synth.sprites import Canvas, Sprite, jitter_color, rounded_rect_pts, texture

Rng = np.random.Generator


def fries(rng: Rng) -> Sprite:
    w, h = int(rng.uniform(64, 72)), int(rng.uniform(80, 90))
    c = Canvas(w + 8, h + 8)
    ox, oy = 4, 4
    gold = jitter_color(rng, (60, 200, 240), 10)
    # fries sticking out of the top half
    for _ in range(int(rng.integers(16, 24))):
        x = ox + rng.uniform(6, w - 6)
        y = oy + rng.uniform(2, h * 0.45)
        ang = rng.uniform(-0.4, 0.4)
        L = rng.uniform(14, 24)
        dx, dy = np.sin(ang) * L / 2, np.cos(ang) * L / 2
        shade = tuple(v * rng.uniform(0.85, 1.05) for v in gold)
        c.line((x - dx, y - dy), (x + dx, y + dy), shade, int(rng.integers(4, 6)), cover=True)
    red = jitter_color(rng, (40, 40, 200), 12)
    carton = [(ox, oy + h * 0.35), (ox + w, oy + h * 0.35), (ox + w * 0.88, oy + h), (ox + w * 0.12, oy + h)]
    c.poly(carton, red)
    c.line(carton[0], carton[1], tuple(v * 0.7 for v in red), 3)
    logo = jitter_color(rng, (40, 200, 245), 10)
    c.ellipse((ox + w / 2, oy + h * 0.68), (w * 0.18, h * 0.1), 0, logo, cover=False)
    sp = c.sprite()
    texture(rng, sp, 5)
    return sp


def nuggets(rng: Rng) -> Sprite:
    w, h = int(rng.uniform(84, 94)), int(rng.uniform(62, 70))
    lid = int(h * 0.35)
    c = Canvas(w + 8, h + lid + 8)
    ox, oy = 4, 4
    box = jitter_color(rng, (70, 170, 230), 10)
    c.rect(ox, oy, ox + w, oy + lid, tuple(v * 0.8 for v in box))  # open lid flap
    c.rect(ox, oy + lid, ox + w, oy + lid + h, box)
    c.rect(ox + 5, oy + lid + 5, ox + w - 5, oy + lid + h - 5, tuple(v * 0.55 for v in box))
    nug = jitter_color(rng, (45, 140, 205), 12)
    for k in range(int(rng.integers(4, 7))):
        x = ox + 16 + (k % 3) * (w - 32) / 2 + rng.uniform(-4, 4)
        y = oy + lid + 18 + (k // 3) * (h - 36) + rng.uniform(-4, 4)
        c.ellipse((x, y), (rng.uniform(11, 14), rng.uniform(8, 11)), rng.uniform(0, 180),
                  tuple(v * rng.uniform(0.85, 1.1) for v in nug), cover=False)
    sp = c.sprite()
    texture(rng, sp, 8)
    return sp


def salad(rng: Rng) -> Sprite:
    r = rng.uniform(46, 54)
    size = int(2 * r + 8)
    c = Canvas(size, size)
    cx = cy = size / 2
    c.circle((cx, cy), r, (225, 230, 228))  # clear bowl rim
    c.circle((cx, cy), r * 0.9, (200, 210, 205), cover=False)
    for _ in range(int(rng.integers(18, 28))):
        a, d = rng.uniform(0, 2 * np.pi), r * 0.75 * np.sqrt(rng.uniform(0, 1))
        g = jitter_color(rng, (50, rng.uniform(140, 200), 70), 15)
        c.ellipse((cx + d * np.cos(a), cy + d * np.sin(a)), (r * 0.22, r * 0.13), rng.uniform(0, 180), g, cover=False)
    for _ in range(int(rng.integers(3, 6))):
        a, d = rng.uniform(0, 2 * np.pi), r * 0.6 * np.sqrt(rng.uniform(0, 1))
        c.circle((cx + d * np.cos(a), cy + d * np.sin(a)), r * 0.11, (50, 50, 215), cover=False)
    for _ in range(int(rng.integers(3, 7))):
        a, d = rng.uniform(0, 2 * np.pi), r * 0.6 * np.sqrt(rng.uniform(0, 1))
        x, y = cx + d * np.cos(a), cy + d * np.sin(a)
        c.line((x, y), (x + rng.uniform(-8, 8), y + rng.uniform(-8, 8)), (40, 140, 245), 3)
    sp = c.sprite()
    texture(rng, sp, 6)
    return sp


def drink(rng: Rng) -> Sprite:
    r = rng.uniform(34, 40)
    size = int(2 * r + 8)
    c = Canvas(size, size)
    cx = cy = size / 2
    brand = jitter_color(rng, [(40, 40, 200), (170, 90, 30), (40, 150, 40)][int(rng.integers(0, 3))], 12)
    c.circle((cx, cy), r, brand)  # cup rim seen from above
    c.circle((cx, cy), r * 0.86, (235, 238, 240))  # white lid
    c.circle((cx, cy), r * 0.62, (215, 220, 225), thickness=2, cover=False)
    for k in range(6):  # lid bumps
        a = k * np.pi / 3 + rng.uniform(0, 0.5)
        c.circle((cx + r * 0.45 * np.cos(a), cy + r * 0.45 * np.sin(a)), r * 0.07, (205, 210, 215), cover=False)
    sx, sy = cx + rng.uniform(-0.2, 0.2) * r, cy + rng.uniform(-0.2, 0.2) * r
    straw = jitter_color(rng, (60, 60, 220), 30)
    c.circle((sx, sy), r * 0.13, straw, cover=False)
    c.circle((sx, sy), r * 0.06, (30, 30, 60), cover=False)
    sp = c.sprite()
    texture(rng, sp, 4)
    return sp


def dessert(rng: Rng) -> Sprite:
    r = rng.uniform(30, 35)
    size = int(2 * r * 1.1 + 8)
    c = Canvas(size, size)
    cx = cy = size / 2
    c.circle((cx, cy), r, jitter_color(rng, (235, 240, 245), 6))  # cup
    c.circle((cx, cy), r * 0.9, (200, 205, 215), thickness=2, cover=False)
    cream = (230, 243, 250)
    for k in range(5, 0, -1):  # soft-serve swirl
        c.circle((cx + k * 0.6, cy - k * 0.4), r * 0.16 * k, tuple(v - 6 * k for v in cream), cover=False)
    a = rng.uniform(0, 2 * np.pi)  # the long sundae spoon
    c.line((cx + r * 0.2 * np.cos(a), cy + r * 0.2 * np.sin(a)), (cx + r * 1.05 * np.cos(a), cy + r * 1.05 * np.sin(a)),
           (200, 120, 240) if rng.random() < 0.5 else (245, 245, 245), 4, cover=True)
    sauce = (30, 50, 95) if rng.random() < 0.6 else (120, 90, 230)
    for _ in range(int(rng.integers(3, 6))):
        a0 = rng.uniform(0, 360)
        c.ellipse((cx, cy), (r * rng.uniform(0.3, 0.7),) * 2, 0, sauce, thickness=3, cover=False,
                  start=a0, end=a0 + rng.uniform(60, 160))
    sp = c.sprite()
    texture(rng, sp, 4)
    return sp


def sauce(rng: Rng) -> Sprite:
    """A dip tub: a rounded rectangle (not a circle like the cups) with a coloured foil lid and a peel tab."""
    w, h = rng.uniform(48, 54), rng.uniform(36, 41)
    c = Canvas(int(w + 14), int(h + 8))
    x0, y0 = 4, 4
    c.poly(rounded_rect_pts(x0, y0, x0 + w, y0 + h, 9), (205, 212, 218))  # tub rim
    foil = [(40, 60, 120), (235, 240, 245), (40, 150, 200), (60, 60, 190)][int(rng.integers(0, 4))]
    lid = jitter_color(rng, foil, 10)
    c.poly(rounded_rect_pts(x0 + 4, y0 + 4, x0 + w - 4, y0 + h - 4, 6), lid, cover=False)
    label = (250, 250, 250) if sum(foil) < 500 else (60, 60, 160)
    c.rect(x0 + w * 0.25, y0 + h * 0.38, x0 + w * 0.75, y0 + h * 0.62, label, cover=False)
    c.poly([(x0 + w - 2, y0 + h * 0.3), (x0 + w + 9, y0 + h * 0.4), (x0 + w + 9, y0 + h * 0.6),
            (x0 + w - 2, y0 + h * 0.7)], tuple(v * 0.9 for v in lid))  # peel tab
    sp = c.sprite()
    texture(rng, sp, 3)
    return sp
