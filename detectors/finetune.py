"""Fine-tune a detector on a site's own labelled photos (``traycheck train --data DATASET``).

Starts from a model (default: the bundled one) and keeps everything it learnt
but the class head when the site's classes differ. Extra training images are
written before the run, so a run is reproducible: copy-paste of real item crops
onto real trays, and optionally rendered trays for classes the renderer knows.
Augmentation suits a fixed camera looking straight down (``detectors.training_run``).
Needs the ``[train]`` extra. This module conducts the stages; each lives in its own.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from detectors.base_weights import installed_base
from detectors.datasets.importer import load_manifest
from detectors.datasets.unlabelled import find_photos
from detectors.finetune_settings import FinetuneSettings
from detectors.model_info import resolve_model
from detectors.stage_bar import StageBar
from detectors.teacher_student import teacher_then_student
from detectors.train import require_ultralytics
from detectors.training_data import TrainingData, write_training_data
from detectors.training_run import RESERVE_S, train_run
from detectors.training_set import read_dataset, split_images
from detectors.transfer import start_checkpoint
from edge.core import console
from edge.errors import InvalidInput

__all__ = ["FinetuneSettings", "finetune"]


def finetune(s: FinetuneSettings, run: Path) -> Path:
    """Train; write RUN/best.pt and RUN/settings.json; return RUN/best.pt.

    With ``s.unlabelled``: a teacher trains on the labelled photos (``teacher_share`` of the budget),
    labels the unlabelled photos (those of validation trays left out), and a student, starting from the
    teacher, trains on both in the rest of the budget; RUN/teacher.pt is kept beside RUN/best.pt."""
    yml, d, classes = read_dataset(Path(s.data))
    train_imgs, val_imgs = split_images(yml, d, "train"), split_images(yml, d, "val")
    if not train_imgs:
        raise InvalidInput(f"--data {s.data}: the train split has no images")
    if not val_imgs:
        raise InvalidInput(f"--data {s.data}: the val split has no images (import with --val-fraction > 0)")
    unlabelled = find_photos([Path(u) for u in s.unlabelled]) if s.unlabelled else []
    start = resolve_model(s.from_model if s.from_model is not None else installed_base(), "pt")
    if start.suffix != ".pt":
        raise InvalidInput(f"--from {s.from_model}: training starts from .pt weights, not {start.suffix}")
    YOLO = require_ultralytics()
    bar = StageBar(s.hours, ["prepare", "teacher", "pseudo-labels", "student"] if unlabelled else ["prepare", "train"])
    bar.start("prepare")
    run = Path(run).resolve()
    run.mkdir(parents=True, exist_ok=True)
    info: dict = {"from_resolved": str(start)}
    start_pt, info["transfer"] = start_checkpoint(start, classes, run)
    data = write_training_data(s, run, train_imgs, val_imgs, classes)
    console.print(f"training on {len(train_imgs)} photos + {len(data.extra)} extra images, validating on "
                  f"{len(val_imgs)}; imgsz {s.imgsz}" + (f", budget {s.hours} h" if s.hours else ""))
    if unlabelled:
        best, more = teacher_then_student(YOLO, s, start_pt, data, run, unlabelled, yml.parent, classes, bar)
        info |= more
    else:
        bar.start("train")
        best = train_run(YOLO(str(start_pt)), s, data.data_yaml, run, "train", bar.hours_left(RESERVE_S), bar)
    shutil.copy(best, run / "best.pt")
    _write_settings(s, info, classes, data, load_manifest(yml.parent).get("hash"), bar)
    bar.show("done")
    return run / "best.pt"


def _write_settings(s: FinetuneSettings, info: dict, classes: list[str], data: TrainingData,
                    dataset_hash: str | None, bar: StageBar) -> None:
    """RUN/settings.json: the options, what the run found and did, and how long it took."""
    settings = asdict(s) | info | {"classes": classes, "train_photos": len(data.train), "extra_images":
                                   len(data.extra), "val_photos": len(data.val), "dataset_hash": dataset_hash,
                                   "device": "cpu", "wall_minutes": round(bar.elapsed() / 60, 1)}
    (data.data_yaml.parent / "settings.json").write_text(json.dumps(settings, indent=1) + "\n")
