"""Duplicates and groups: which files are one picture, and which pictures are one tray.

Real exports hold resized copies of a frame (a perceptual hash finds them
whatever the size) and several shots of each tray. Shots of one tray must stay
on one side of the train/val split, or validation only measures memory. By
default a group is a *burst*: files next to each other in shot order (the
running number in the file name) that carry the same labels or look alike.
``--group-by REGEX`` overrides that with a key taken from the file name.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import cv2
import numpy as np

from detectors.datasets.image_files import natural_key
from detectors.datasets.validate import CheckedImage
from edge.errors import InvalidInput

NEAR_DUP_BITS = 4  # pHash Hamming distance of resized/re-encoded copies: 0-2 here; other trays: >= 6
NEAR_DUP_CORR = 0.9
BURST_GAP = 3  # shot numbers at most this far apart can be one burst
ALIKE_CORR = 0.75  # grey-thumbnail correlation of two shots of one scene


def phash(grey: np.ndarray) -> np.ndarray:
    """64-bit DCT perceptual hash (as bools): survives resizing and JPEG re-encoding."""
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    d = cv2.dct(small)[:8, :8].flatten()[1:]
    bits = np.zeros(64, bool)
    bits[1:] = d > np.median(d)
    return bits


def phash_hex(bits: np.ndarray) -> str:
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def thumb_corr(a: np.ndarray, b: np.ndarray) -> float:
    x, y = a.astype(np.float32).ravel(), b.astype(np.float32).ravel()
    x, y = x - x.mean(), y - y.mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum()) / den if den > 0 else 1.0


class UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def shot_order(images: Sequence[CheckedImage]) -> list[int]:
    """Indices in shot order: natural sort of the file names (running numbers compare as numbers)."""
    return sorted(range(len(images)), key=lambda i: natural_key(images[i].item.path.name))


def find_duplicates(images: Sequence[CheckedImage]) -> dict[int, int]:
    """{dropped index: kept index}: exact copies, and near copies (same picture at another size or
    quality). The copy with the most pixels is kept (ties: the first in shot order)."""
    order = shot_order(images)
    rank = {i: k for k, i in enumerate(order)}
    hashes = np.array([phash(im.grey) for im in images]) if images else np.zeros((0, 64), bool)
    u = UnionFind(len(images))
    by_sha: dict[str, int] = {}
    for i in order:
        if images[i].sha1 in by_sha:
            u.join(by_sha[images[i].sha1], i)
        else:
            by_sha[images[i].sha1] = i
    if len(images) > 1:
        dist = (hashes[:, None, :] != hashes[None, :, :]).sum(-1)
        for i, j in zip(*np.nonzero(np.triu(dist <= NEAR_DUP_BITS, 1))):
            if thumb_corr(images[i].grey, images[j].grey) >= NEAR_DUP_CORR:
                u.join(int(i), int(j))
    clusters: dict[int, list[int]] = {}
    for i in order:
        clusters.setdefault(u.find(i), []).append(i)
    dropped: dict[int, int] = {}
    for members in clusters.values():
        keep = max(members, key=lambda i: (images[i].width * images[i].height, -rank[i]))
        dropped.update({i: keep for i in members if i != keep})
    return dropped


def shot_number(name: str) -> int | None:
    nums = re.findall(r"\d+", name.rsplit(".", 1)[0])
    return int(nums[-1]) if nums else None


def burst_groups(images: Sequence[CheckedImage], duplicates: dict[int, int] | None = None) -> list[int]:
    """Group id per image (0, 1, ... in shot order): consecutive shots with the same labels or a
    look-alike picture form one group; duplicates join their kept copy's group."""
    order = shot_order(images)
    u = UnionFind(len(images))
    for a, b in zip(order, order[1:]):
        na, nb = shot_number(images[a].item.path.name), shot_number(images[b].item.path.name)
        if na is not None and nb is not None and abs(nb - na) > BURST_GAP:
            continue
        same_labels = Counter(images[a].item.names) == Counter(images[b].item.names)
        if same_labels or thumb_corr(images[a].grey, images[b].grey) >= ALIKE_CORR:
            u.join(a, b)
    for i, j in (duplicates or {}).items():
        u.join(i, j)
    return _number(u, order)


def regex_groups(images: Sequence[CheckedImage], pattern: str) -> list[int]:
    """Group id per image from ``--group-by``: the first capture group (or the whole match) of the
    regex on the file name; a name it does not match is refused (a silent group of its own would
    put shots of one tray on both sides)."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise InvalidInput(f"--group-by {pattern!r}: not a valid regular expression ({exc})") from None
    keys: list[str] = []
    for im in images:
        m = rx.search(im.item.path.name)
        if m is None:
            raise InvalidInput(f"--group-by {pattern!r} does not match the file name {im.item.path.name!r}")
        keys.append(m.group(1) if rx.groups else m.group(0))
    order = shot_order(images)
    first: dict[str, int] = {}
    u = UnionFind(len(images))
    for i in order:
        if keys[i] in first:
            u.join(first[keys[i]], i)
        else:
            first[keys[i]] = i
    return _number(u, order)


def _number(u: UnionFind, order: list[int]) -> list[int]:
    ids: dict[int, int] = {}
    out = [0] * len(order)
    for i in order:
        out[i] = ids.setdefault(u.find(i), len(ids))
    return out
