"""A run with unlabelled photos: a teacher learns from the labelled ones, labels the rest, a student
learns from both.

The teacher gets ``teacher_share`` of the budget; the student starts from the teacher and
takes what is left. Unlabelled shots of a validation tray are left out first, so the val
split still scores a model that never saw those trays.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from detectors.datasets.unlabelled import UnlabelledSplit, leave_out_val_trays
from detectors.finetune_settings import FinetuneSettings
from detectors.stage_bar import StageBar
from detectors.training_data import TrainingData
from detectors.training_run import RESERVE_S, train_run
from edge.core import console, progress_bar
from edge.errors import InvalidInput


def teacher_then_student(YOLO: Any, s: FinetuneSettings, start_pt: Path, data: TrainingData, run: Path,
                         unlabelled: list[Path], dataset: Path, classes: list[str],
                         bar: StageBar) -> tuple[Path, dict]:
    """The student's best.pt (RUN/teacher.pt kept beside it) and what to record in settings.json;
    the pseudo-labelled photos join ``data.extra``."""
    split = _unlabelled_split(unlabelled, dataset)
    info: dict = {"unlabelled_photos": {"photos": len(unlabelled), "used": len(split.kept), "left_out_val_trays":
                                        len(split.left_out), "unreadable": len(split.unreadable),
                                        "grouped": split.grouped}}
    bar.start("teacher")
    teacher_hours = s.hours * s.teacher_share if s.hours else None
    teacher = train_run(YOLO(str(start_pt)), s, data.data_yaml, run, "teacher", teacher_hours, bar)
    shutil.copy(teacher, run / "teacher.pt")
    bar.start("pseudo-labels")
    info["pseudo_labels"] = _pseudo_label(YOLO(str(teacher)), split.kept, data.val, classes, run, s.imgsz)
    data.extra += [run / "data" / "images" / "pseudo" / p for p in info["pseudo_labels"].pop("files")]
    data.write_train_list()
    bar.start("student")
    best = train_run(YOLO(str(teacher)), s, data.data_yaml, run, "train", bar.hours_left(RESERVE_S), bar)
    return best, info


def _unlabelled_split(photos: list[Path], dataset: Path) -> UnlabelledSplit:
    """The unlabelled photos a student may use; says how many were left out and why."""
    with progress_bar(f"Grouping {len(photos)} unlabelled photos with the dataset's trays", len(photos)) as adv:
        split = leave_out_val_trays(photos, dataset, adv)
    if not split.grouped:
        console.print(f"warning: {dataset} has no manifest (not from 'data import'): unlabelled shots of "
                      "validation trays cannot be told apart, so none is left out")
    console.print(f"unlabelled: {len(photos)} photos, {len(split.left_out)} left out as shots of validation "
                  f"trays, {len(split.unreadable)} unreadable, {len(split.kept)} to pseudo-label")
    if not split.kept:
        raise InvalidInput("--unlabelled: no photo is left to learn from once the validation trays' shots are out")
    return split


def _pseudo_label(teacher: Any, photos: list[Path], val_imgs: list[Path], classes: list[str], run: Path,
                  imgsz: int) -> dict:
    """Pseudo-labels under RUN/data; a summary for settings.json (``files``: the written image names)."""
    from detectors.pseudo_labels import write_pseudo_labels

    n = len(val_imgs) + len(photos)
    with progress_bar(f"Teacher labelling {len(val_imgs)} val photos (thresholds) + {len(photos)} unlabelled "
                      "(flip and scale TTA)", n) as advance:
        pl = write_pseudo_labels(teacher, photos, val_imgs, classes, run / "data", imgsz, advance)
    console.print(f"pseudo-labels: {len(pl.images)} photos, {sum(pl.boxes.values())} boxes "
                  f"({', '.join(f'{c} {k}' for c, k in pl.boxes.items())}); {pl.empty} photos with no box "
                  f"left out; thresholds from the val split ({', '.join(f'{c} {t}' for c, t in pl.class_conf.items())}"
                  f"), where the teacher counts {pl.val_count_accuracy:.1%} of photos right")
    return {"photos": len(pl.images), "boxes": pl.boxes, "empty_left_out": pl.empty, "class_conf": pl.class_conf,
            "teacher_val_count_accuracy": round(pl.val_count_accuracy, 4), "files": [p.name for p in pl.images]}
