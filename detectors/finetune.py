"""Fine-tune a detector on a site's own labelled photos (``traycheck train --data DATASET``).

Starts from a model (default: the bundled one) and keeps everything it learnt
but the class head when the site's classes differ. Extra training images are
written before the run, so a run is reproducible: copy-paste of real item crops
onto real trays, and optionally rendered trays for classes the renderer knows.
Augmentation suits a fixed camera looking straight down: flips both ways, small
shifts and scale changes, colour jitter, mosaic; no perspective or shear.
Needs the ``[train]`` extra.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from detectors.classes import CLASSES
from detectors.datasets.copy_paste import write_copy_paste
from detectors.datasets.importer import load_manifest
from detectors.datasets.unlabelled import UnlabelledSplit, find_photos, leave_out_val_trays
from detectors.model_info import resolve_model
from detectors.synth.dataset import render_sample, yolo_label_lines
from detectors.train import require_ultralytics
from edge.core import UserError, console, progress_bar


@dataclass
class FinetuneSettings:
    data: str
    from_model: str | None = None  # .pt weights or a bundled model name; default: the bundled model
    hours: float | None = None  # ultralytics 'time': the LR schedule is fitted into this budget
    epochs: int = 60  # used when no --hours; with --hours an upper bound the budget recomputes
    imgsz: int = 384  # 4:3 photos -> 288x384 input; 480 scored lower on the canteen set (docs/own-menu.md)
    batch: int = 16
    seed: int = 0
    copy_paste: int | None = None  # extra copy-paste images; None: as many as the real training photos
    synthetic: int = 0
    workers: int = 2
    patience: int = 1000
    unlabelled: list[str] = field(default_factory=list)  # folders of unlabelled photos: teacher -> student
    teacher_share: float = 0.4  # of --hours, for the teacher when there are unlabelled photos


RESERVE_S = 90.0  # of the budget, kept for the student's final validation and the files after it


def read_dataset(data: Path) -> tuple[Path, dict, list[str]]:
    """(data.yaml path, its content, class names) of a dataset folder or data.yaml file."""
    data = Path(data)
    yml = data if data.suffix in (".yaml", ".yml") else data / "data.yaml"
    if not yml.is_file():
        raise UserError(f"--data {data}: no data.yaml (make one with 'traycheck data import SRC -o {data}')")
    try:
        d = yaml.safe_load(yml.read_text())
        names = d["names"]
        classes = [str(names[k]) for k in sorted(names)] if isinstance(names, dict) else [str(n) for n in names]
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise UserError(f"{yml}: not a dataset description ({type(exc).__name__}: {exc})") from None
    return yml, d, classes


def split_images(yml: Path, d: dict, split: str) -> list[Path]:
    base = Path(d.get("path") or yml.parent)
    base = base if base.is_absolute() and base.is_dir() else yml.parent
    folder = base / str(d.get(split, f"images/{split}"))
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".webp"))


def _synthetic(n: int, classes: list[str], out_dir: Path, seed: int) -> list[Path]:
    """Rendered trays whose every item is one of the dataset's classes (by name)."""
    to_ds = {i: classes.index(c) for i, c in enumerate(CLASSES) if c in classes}
    if not to_ds:
        raise UserError(f"--synthetic {n}: the renderer draws {', '.join(CLASSES)}; the dataset has none of "
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


def _use_all_cores(model) -> None:
    """ultralytics trains on CPU with cores - 1 threads (1 on a 2-core box: half the machine idle);
    the box is ours while it trains, so take every core at the start of each epoch."""
    import os

    import torch

    def take(_trainer) -> None:
        torch.set_num_threads(os.cpu_count() or 1)

    for event in ("on_train_start", "on_train_epoch_start"):
        model.add_callback(event, take)


BASE_ENV = "TRAYCHECK_BASE_WEIGHTS"


def base_weights_path() -> Path:
    """Where a site's real-image base weights are installed: ``$TRAYCHECK_BASE_WEIGHTS``, else
    ``$XDG_DATA_HOME/traycheck/base-weights.pt`` (``~/.local/share/...``)."""
    import os

    if os.environ.get(BASE_ENV):
        return Path(os.environ[BASE_ENV])
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "traycheck" / "base-weights.pt"


def installed_base() -> str | None:
    """The installed real-image base weights ``train --data`` starts from without ``--from`` (None: none
    installed, start from the bundled model). Real-image features count real trays far better than the
    bundled renders-only weights (docs/own-menu.md), so they win wherever a site has them."""
    p = base_weights_path()
    if p.is_file():
        console.print(f"starting from the installed base weights {p} (--from overrides)")
        return str(p)
    import os

    if os.environ.get(BASE_ENV):
        raise UserError(f"{BASE_ENV}={p}: no such file (unset it to start from the bundled model)")
    return None


class StageBar:
    """One line per stage and per epoch across the whole command: where it is in its budget."""

    WIDTH = 30

    def __init__(self, hours: float | None, stages: list[str]):
        self.t0, self.total = time.monotonic(), (hours * 3600 if hours else None)
        self.stages, self.stage = stages, 0

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def hours_left(self, reserve_s: float = 0.0) -> float | None:
        """The budget still free (hours), at least a minute; None without a budget."""
        if self.total is None:
            return None
        return max(60.0, self.total - self.elapsed() - reserve_s) / 3600

    def start(self, stage: str) -> None:
        self.stage = self.stages.index(stage)
        self.show()

    def show(self, detail: str = "") -> None:
        name = f"stage {self.stage + 1}/{len(self.stages)} {self.stages[self.stage]}"
        used = self.elapsed() / 60
        if self.total is None:
            console.print(f"[{name}] {used:.1f} min" + (f" · {detail}" if detail else ""), markup=False)
            return
        share = min(1.0, self.elapsed() / self.total)
        full = int(round(share * self.WIDTH))
        console.print(f"[{'█' * full}{'░' * (self.WIDTH - full)}] {used:.1f}/{self.total / 60:.0f} min · {name}"
                      + (f" · {detail}" if detail else ""), markup=False)

    def follow(self, model: Any, what: str) -> None:
        """Show the bar after each epoch of ``model``'s training."""
        def epoch_end(trainer: Any) -> None:
            self.show(f"{what} epoch {min(trainer.epoch + 1, trainer.epochs)}/{trainer.epochs}")

        model.add_callback("on_fit_epoch_end", epoch_end)


def finetune(s: FinetuneSettings, run: Path) -> Path:
    """Train; write RUN/best.pt and RUN/settings.json; return RUN/best.pt.

    With ``s.unlabelled``: a teacher trains on the labelled photos (``teacher_share`` of the budget),
    labels the unlabelled photos (those of validation trays left out), and a student, starting from the
    teacher, trains on both in the rest of the budget; RUN/teacher.pt is kept beside RUN/best.pt."""
    yml, d, classes = read_dataset(Path(s.data))
    train_imgs, val_imgs = split_images(yml, d, "train"), split_images(yml, d, "val")
    if not train_imgs:
        raise UserError(f"--data {s.data}: the train split has no images")
    if not val_imgs:
        raise UserError(f"--data {s.data}: the val split has no images (import with --val-fraction > 0)")
    unlabelled = find_photos([Path(u) for u in s.unlabelled]) if s.unlabelled else []
    start = resolve_model(s.from_model if s.from_model is not None else installed_base(), "pt")
    if start.suffix != ".pt":
        raise UserError(f"--from {s.from_model}: training starts from .pt weights, not {start.suffix}")
    YOLO = require_ultralytics()
    stages = ["prepare", "teacher", "pseudo-labels", "student"] if unlabelled else ["prepare", "train"]
    bar = StageBar(s.hours, stages)
    bar.start("prepare")
    run = Path(run).resolve()
    run.mkdir(parents=True, exist_ok=True)
    info: dict = {"from_resolved": str(start)}
    start_pt, info["transfer"] = _start_checkpoint(start, classes, run)
    data_yaml, extra = _training_data(s, run, train_imgs, val_imgs, classes)
    console.print(f"training on {len(train_imgs)} photos + {len(extra)} extra images, validating on "
                  f"{len(val_imgs)}; imgsz {s.imgsz}" + (f", budget {s.hours} h" if s.hours else ""))
    if unlabelled:
        split = _unlabelled_split(unlabelled, yml.parent)
        info["unlabelled_photos"] = {"photos": len(unlabelled), "used": len(split.kept), "left_out_val_trays":
                              len(split.left_out), "unreadable": len(split.unreadable), "grouped": split.grouped}
        bar.start("teacher")
        teacher_hours = s.hours * s.teacher_share if s.hours else None
        teacher = _train(YOLO(str(start_pt)), s, data_yaml, run, "teacher", teacher_hours, bar)
        shutil.copy(teacher, run / "teacher.pt")
        bar.start("pseudo-labels")
        info["pseudo_labels"] = _pseudo_label(YOLO(str(teacher)), split.kept, val_imgs, classes, run, s.imgsz)
        extra += [run / "data" / "images" / "pseudo" / p for p in info["pseudo_labels"].pop("files")]
        (run / "train.txt").write_text("".join(f"{p}\n" for p in train_imgs + extra))
        bar.start("student")
        best = _train(YOLO(str(teacher)), s, data_yaml, run, "train", bar.hours_left(RESERVE_S), bar)
    else:
        bar.start("train")
        best = _train(YOLO(str(start_pt)), s, data_yaml, run, "train", bar.hours_left(RESERVE_S), bar)
    shutil.copy(best, run / "best.pt")
    manifest = load_manifest(yml.parent)
    settings = asdict(s) | info | {"classes": classes, "train_photos": len(train_imgs), "extra_images": len(extra),
                                   "val_photos": len(val_imgs), "dataset_hash": manifest.get("hash"),
                                   "device": "cpu", "wall_minutes": round(bar.elapsed() / 60, 1)}
    (run / "settings.json").write_text(json.dumps(settings, indent=1) + "\n")
    bar.show("done")
    return run / "best.pt"


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
        raise UserError("--unlabelled: no photo is left to learn from once the validation trays' shots are out")
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


def _training_data(s: FinetuneSettings, run: Path, train_imgs: list[Path], val_imgs: list[Path],
                   classes: list[str]) -> tuple[Path, list[Path]]:
    """RUN/data.yaml over the real photos plus the extra images written under RUN/data; (it, the extras)."""
    aug = run / "data"
    shutil.rmtree(aug, ignore_errors=True)
    n_cp = len(train_imgs) if s.copy_paste is None else s.copy_paste
    with progress_bar(f"Copy-paste: {n_cp} extra training images", n_cp) as advance:
        extra = write_copy_paste(train_imgs, aug, n_cp, len(classes), s.seed, progress=advance)
    if s.synthetic:
        extra += _synthetic(s.synthetic, classes, aug, s.seed)
    (run / "train.txt").write_text("".join(f"{p}\n" for p in train_imgs + extra))
    (run / "val.txt").write_text("".join(f"{p}\n" for p in val_imgs))
    data_yaml = run / "data.yaml"
    data_yaml.write_text(yaml.safe_dump({"path": str(run), "train": str(run / "train.txt"),
                                         "val": str(run / "val.txt"),
                                         "names": {i: c for i, c in enumerate(classes)}}, sort_keys=False))
    return data_yaml, extra


def _start_checkpoint(start: Path, classes: list[str], run: Path) -> tuple[Path, dict]:
    """RUN/start.pt: the starting weights in their own architecture with a class head for ``classes``."""
    from detectors.transfer import read_checkpoint, write_start_checkpoint

    sd, arch = read_checkpoint(start)
    names = None
    if arch is not None:  # an ultralytics checkpoint: keep it as is when its classes are already the dataset's
        from ultralytics.nn.tasks import load_checkpoint

        names = load_checkpoint(str(start))[0].names
        if [names[i] for i in sorted(names)] == classes:
            return start, {"moved": len(sd), "of": len(sd), "architecture": "the checkpoint's own"}
    if names is not None:
        console.print(f"new class head: {len(names)} -> {len(classes)} classes ({', '.join(classes)})")
    report = write_start_checkpoint(start, classes, run / "start.pt")
    console.print(report.line())
    return run / "start.pt", {"moved": report.moved, "of": report.source_tensors,
                              "architecture": Path(report.architecture).name}


def _train(model: Any, s: FinetuneSettings, data_yaml: Path, run: Path, name: str, hours: float | None,
           bar: StageBar) -> Path:
    """ultralytics' training run into RUN/<name>, with augmentation for a fixed top-down camera; its best.pt."""
    _use_all_cores(model)
    bar.follow(model, name)
    extra_args: dict = {"time": hours} if hours else {}
    model.train(
        data=str(data_yaml), imgsz=s.imgsz, epochs=s.epochs, batch=s.batch, workers=s.workers, seed=s.seed,
        deterministic=True, device="cpu", amp=False, plots=False, cache="ram", project=str(run), name=name,
        exist_ok=True, pretrained=True, patience=s.patience, verbose=True,
        # a fixed camera straight down: any flip is a real view; no perspective, shear or big rotation
        degrees=5.0, flipud=0.5, fliplr=0.5, scale=0.3, translate=0.1, shear=0.0, perspective=0.0,
        hsv_h=0.015, hsv_s=0.5, hsv_v=0.4, mosaic=1.0, mixup=0.0, close_mosaic=max(2, s.epochs // 10),
        **extra_args,
    )
    best = run / name / "weights" / "best.pt"
    if not best.is_file():
        raise UserError(f"training finished without {best}")
    return best
