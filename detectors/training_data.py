"""The images a site model trains on: its real photos plus extra images written before the run.

The extras are copy-paste of real item crops onto real trays and, optionally, rendered
trays for classes the renderer knows; writing them up front keeps a run reproducible.
RUN/data.yaml points ultralytics at lists of files (RUN/train.txt, RUN/val.txt), so a
later stage can add images (pseudo-labelled photos) by rewriting the train list.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from detectors.classes import CLASSES
from detectors.datasets.copy_paste import write_copy_paste
from detectors.finetune_settings import FinetuneSettings
from detectors.synth.dataset import render_sample, yolo_label_lines
from edge.core import progress_bar
from edge.errors import InvalidInput


@dataclass
class TrainingData:
    """RUN/data.yaml and the images behind its train and val lists."""

    data_yaml: Path
    train: list[Path]  # the dataset's own training photos
    val: list[Path]  # the dataset's val photos (never trained on)
    extra: list[Path]  # images written for the run: copy-paste, rendered, pseudo-labelled

    def write_train_list(self) -> None:
        """RUN/train.txt: the real training photos, then the extras."""
        (self.data_yaml.parent / "train.txt").write_text("".join(f"{p}\n" for p in self.train + self.extra))


def write_training_data(s: FinetuneSettings, run: Path, train_imgs: list[Path], val_imgs: list[Path],
                        classes: list[str]) -> TrainingData:
    """RUN/data.yaml over the real photos plus the extra images written under RUN/data."""
    aug = run / "data"
    shutil.rmtree(aug, ignore_errors=True)
    n_cp = len(train_imgs) if s.copy_paste is None else s.copy_paste
    with progress_bar(f"Copy-paste: {n_cp} extra training images", n_cp) as advance:
        extra = write_copy_paste(train_imgs, aug, n_cp, len(classes), s.seed, progress=advance)
    if s.synthetic:
        extra += rendered_trays(s.synthetic, classes, aug, s.seed)
    data = TrainingData(run / "data.yaml", train_imgs, val_imgs, extra)
    data.write_train_list()
    (run / "val.txt").write_text("".join(f"{p}\n" for p in val_imgs))
    data.data_yaml.write_text(yaml.safe_dump({"path": str(run), "train": str(run / "train.txt"),
                                              "val": str(run / "val.txt"),
                                              "names": {i: c for i, c in enumerate(classes)}}, sort_keys=False))
    return data


def rendered_trays(n: int, classes: list[str], out_dir: Path, seed: int) -> list[Path]:
    """Rendered trays whose every item is one of the dataset's classes (by name)."""
    to_ds = {i: classes.index(c) for i, c in enumerate(CLASSES) if c in classes}
    if not to_ds:
        raise InvalidInput(f"--synthetic {n}: the renderer draws {', '.join(CLASSES)}; the dataset has none of "
                        f"them ({', '.join(classes)}), so rendered trays cannot be labelled in its classes")
    (out_dir / "images" / "syn").mkdir(parents=True, exist_ok=True)
    (out_dir / "labels" / "syn").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    i = 0
    with progress_bar(f"Rendering {n} trays in the dataset's classes", n) as advance:
        while len(written) < n and i < 50 * n:
            img, xyxy, ids = render_sample(seed + 31, i)
            i += 1
            if not all(int(k) in to_ds for k in ids):
                continue  # an item the dataset cannot name would be taught as background
            name = f"syn_{i:06d}"
            cv2.imwrite(str(out_dir / "images" / "syn" / f"{name}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
            mapped = np.array([to_ds[int(k)] for k in ids], np.int64)
            (out_dir / "labels" / "syn" / f"{name}.txt").write_text(
                yolo_label_lines(xyxy, mapped, img.shape[1], img.shape[0]))
            written.append(out_dir / "images" / "syn" / f"{name}.jpg")
            advance(1)
    return written
