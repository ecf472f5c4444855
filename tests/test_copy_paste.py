"""Copy-paste augmentation: real crops land on free spots, with labels that match what was pasted."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from detectors.datasets.copy_paste import MAX_OVERLAP, _overlap, label_path, write_copy_paste
from detectors.evaluation.dataset import read_label_file
from tests.labelled_sets import shots


def _dataset(root: Path) -> list[Path]:
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    paths = []
    for k, (_, img, xyxy, ids) in enumerate(shots(trays=4, per_tray=1, seed=21)):
        p = root / "images" / "train" / f"t{k}.jpg"
        cv2.imwrite(str(p), img)
        h, w = img.shape[:2]
        (root / "labels" / "train" / f"t{k}.txt").write_text("".join(
            f"{c} {(a + b2) / 2 / w:.6f} {(b + d) / 2 / h:.6f} {(b2 - a) / w:.6f} {(d - b) / h:.6f}\n"
            for c, (a, b, b2, d) in zip(ids, xyxy)))
        paths.append(p)
    return paths


def test_pasted_items_are_labelled_on_free_spots_and_reproducible(tmp_path):
    photos = _dataset(tmp_path / "ds")
    out = write_copy_paste(photos, tmp_path / "aug", 6, 10, seed=4)
    assert len(out) == 6
    for p in out:
        img = cv2.imread(str(p))
        xyxy, ids = read_label_file(label_path(p), 10)
        assert len(ids) > min(len(read_label_file(label_path(q), 10)[1]) for q in photos)  # items were pasted
        px = xyxy * np.float32([img.shape[1], img.shape[0]] * 2)
        assert (px[:, 2] > px[:, 0]).all() and (px[:, 3] > px[:, 1]).all()
    # a pasted box (the last ones) never covers an earlier box of its photo by more than the limit
    xyxy, _ = read_label_file(label_path(out[0]), 10)
    assert _overlap(xyxy[-1], xyxy[:-1]) <= MAX_OVERLAP + 1e-3
    again = write_copy_paste(photos, tmp_path / "aug2", 6, 10, seed=4)
    assert [p.read_bytes() for p in out] == [p.read_bytes() for p in again]
