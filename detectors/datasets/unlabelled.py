"""Unlabelled photos for ``train --unlabelled``: found, and the shots of validation trays left out.

A box that runs has many more tray photos than anyone labels, and many of them
are other shots of the labelled trays. A shot of a validation tray that a
student model trains on (even with a teacher's labels) makes the validation
figure measure a tray the model has seen. So unlabelled photos are put into the
dataset's groups by the same rule ``data import`` used: neighbours in shot
order (the running number in the file name, at most ``BURST_GAP`` apart) that
look alike, and near copies of a labelled picture wherever they are. A photo
whose group holds a validation photo is left out.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detectors.datasets.grouping import (
    ALIKE_CORR,
    BURST_GAP,
    NEAR_DUP_BITS,
    NEAR_DUP_CORR,
    UnionFind,
    phash,
    shot_number,
    thumb_corr,
)
from detectors.datasets.image_files import IMAGE_SUFFIXES, natural_key
from detectors.datasets.importer import load_manifest
from edge.errors import InvalidInput


@dataclass
class UnlabelledSplit:
    kept: list[Path]  # photos a student may learn from
    left_out: list[Path]  # shots of validation trays
    unreadable: list[Path]
    grouped: bool  # False: the dataset has no manifest, so nothing could be left out


def find_photos(dirs: Sequence[Path]) -> list[Path]:
    """Every image under each folder (recursively: ``data export`` writes ``images/``), in name order."""
    out: list[Path] = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise InvalidInput(f"--unlabelled {d}: not a folder")
        found = sorted((p for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                       key=lambda p: natural_key(p.name))
        if not found:
            raise InvalidInput(f"--unlabelled {d}: no photos in it ({', '.join(sorted(IMAGE_SUFFIXES))})")
        out += found
    return out


def thumbnail(path: Path) -> np.ndarray | None:
    """The grey 64x48 thumbnail grouping compares (as ``data import`` makes it); None if unreadable."""
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return None if img is None else cv2.resize(img, (64, 48), interpolation=cv2.INTER_AREA)


@dataclass
class _Shot:
    name: str
    grey: np.ndarray
    split: str | None  # None: unlabelled
    group: int | None  # the dataset's group of a labelled shot
    path: Path | None = None


def _labelled_shots(root: Path, manifest: dict) -> list[_Shot]:
    """The dataset's photos (and the duplicates it dropped, as their kept copy) with split and group."""
    shots: list[_Shot] = []
    by_source: dict[str, _Shot] = {}
    for e in manifest.get("images", []):
        grey = thumbnail(root / e["file"])
        if grey is None:
            continue
        s = _Shot(str(e["source"]), grey, str(e["split"]), int(e["group"]))
        shots.append(s)
        by_source[s.name] = s
    for dup in manifest.get("duplicates", []):
        kept = by_source.get(str(dup.get("kept")))
        if kept is not None:
            shots.append(_Shot(str(dup["source"]), kept.grey, kept.split, kept.group))
    return shots


def leave_out_val_trays(photos: Sequence[Path], dataset: Path,
                        progress: Callable[[int], None] | None = None) -> UnlabelledSplit:
    """Split ``photos`` into those a student may train on and the shots of the dataset's val trays."""
    manifest = load_manifest(Path(dataset))
    labelled = _labelled_shots(Path(dataset), manifest) if manifest.get("images") else []
    shots: list[_Shot] = list(labelled)
    unreadable: list[Path] = []
    for p in photos:
        grey = thumbnail(p)
        if grey is None:
            unreadable.append(p)
        else:
            shots.append(_Shot(p.name, grey, None, None, p))
        if progress:
            progress(1)
    if not labelled:
        return UnlabelledSplit([s.path for s in shots if s.path is not None], [], unreadable, False)
    u = _tray_groups(shots)
    val = [i for i, s in enumerate(shots) if s.split == "val"]
    val_roots = {u.find(i) for i in val}
    kept: list[Path] = []
    left: list[Path] = []
    for i, s in enumerate(shots):
        if s.path is not None:
            (left if u.find(i) in val_roots else kept).append(s.path)
    return UnlabelledSplit(kept, left, unreadable, True)


def _tray_groups(shots: list[_Shot]) -> UnionFind:
    """Shots joined into trays: the dataset's own groups, bursts, and near copies of a val photo."""
    u = UnionFind(len(shots))
    first_of_group: dict[int, int] = {}
    for i, s in enumerate(shots):  # the dataset's own groups stay together
        if s.group is not None:
            u.join(first_of_group.setdefault(s.group, i), i)
    order = sorted(range(len(shots)), key=lambda i: natural_key(shots[i].name))
    for a, b in zip(order, order[1:]):  # bursts: near in shot order and alike
        na, nb = shot_number(shots[a].name), shot_number(shots[b].name)
        if na is not None and nb is not None and abs(nb - na) > BURST_GAP:
            continue
        if thumb_corr(shots[a].grey, shots[b].grey) >= ALIKE_CORR:
            u.join(a, b)
    _join_near_copies_of_val(shots, u)
    return u


def _join_near_copies_of_val(shots: list[_Shot], u: UnionFind) -> None:
    """Join every unlabelled shot that is a near copy of a val photo (anywhere in the order) to it."""
    val = [i for i, s in enumerate(shots) if s.split == "val"]
    if not val:
        return
    val_hash = np.array([phash(shots[i].grey) for i in val])
    for i, s in enumerate(shots):
        if s.split is not None:
            continue
        dist = (val_hash != phash(s.grey)[None, :]).sum(axis=1)
        for k in np.flatnonzero(dist <= NEAR_DUP_BITS):
            if thumb_corr(s.grey, shots[val[k]].grey) >= NEAR_DUP_CORR:
                u.join(i, val[k])
