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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from detectors.classes import CLASSES
from detectors.datasets.copy_paste import write_copy_paste
from detectors.datasets.importer import load_manifest
from detectors.model_info import resolve_model
from detectors.synth.dataset import render_sample, yolo_label_lines
from detectors.train import DEFAULT_MODEL_YAML, require_ultralytics
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


def _model_yaml(nc: int, out: Path) -> Path:
    text = DEFAULT_MODEL_YAML.read_text()
    lines = [f"nc: {nc}" if ln.startswith("nc:") else ln for ln in text.splitlines()]
    out.write_text("\n".join(lines) + "\n")
    return out


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


def finetune(s: FinetuneSettings, run: Path) -> Path:
    """Train; write RUN/best.pt and RUN/settings.json; return RUN/best.pt."""
    yml, d, classes = read_dataset(Path(s.data))
    train_imgs, val_imgs = split_images(yml, d, "train"), split_images(yml, d, "val")
    if not train_imgs:
        raise UserError(f"--data {s.data}: the train split has no images")
    if not val_imgs:
        raise UserError(f"--data {s.data}: the val split has no images (import with --val-fraction > 0)")
    start = resolve_model(s.from_model, "pt")
    if start.suffix != ".pt":
        raise UserError(f"--from {s.from_model}: training starts from .pt weights, not {start.suffix}")
    YOLO = require_ultralytics()
    run = Path(run).resolve()
    run.mkdir(parents=True, exist_ok=True)
    data_yaml, extra = _training_data(s, run, train_imgs, val_imgs, classes)
    model = _start_model(YOLO, start, classes, run)
    _use_all_cores(model)
    console.print(f"training on {len(train_imgs)} photos + {len(extra)} extra images, validating on "
                  f"{len(val_imgs)}; imgsz {s.imgsz}" + (f", budget {s.hours} h" if s.hours else ""))
    _train(model, s, data_yaml, run)
    best = run / "train" / "weights" / "best.pt"
    if not best.is_file():
        raise UserError(f"training finished without {best}")
    shutil.copy(best, run / "best.pt")
    manifest = load_manifest(yml.parent)
    settings = asdict(s) | {"from_resolved": str(start), "classes": classes, "train_photos": len(train_imgs),
                            "extra_images": len(extra), "val_photos": len(val_imgs),
                            "dataset_hash": manifest.get("hash"), "device": "cpu"}
    (run / "settings.json").write_text(json.dumps(settings, indent=1) + "\n")
    return run / "best.pt"


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


def _start_model(YOLO: Any, start: Path, classes: list[str], run: Path) -> Any:
    """The starting model; a new class head when the dataset's classes differ (the rest is transferred)."""
    base = YOLO(str(start))
    start_classes = [base.names[i] for i in sorted(base.names)]
    if start_classes == classes:
        return base
    console.print(f"new class head: {len(start_classes)} -> {len(classes)} classes ({', '.join(classes)})")
    return YOLO(str(_model_yaml(len(classes), run / "model.yaml"))).load(str(start))


def _train(model: Any, s: FinetuneSettings, data_yaml: Path, run: Path) -> None:
    """ultralytics' training run into RUN/train, with augmentation for a fixed top-down camera."""
    extra_args: dict = {"time": s.hours} if s.hours else {}
    model.train(
        data=str(data_yaml), imgsz=s.imgsz, epochs=s.epochs, batch=s.batch, workers=s.workers, seed=s.seed,
        deterministic=True, device="cpu", amp=False, plots=False, cache="ram", project=str(run), name="train",
        exist_ok=True, pretrained=True, patience=s.patience, verbose=True,
        # a fixed camera straight down: any flip is a real view; no perspective, shear or big rotation
        degrees=5.0, flipud=0.5, fliplr=0.5, scale=0.3, translate=0.1, shear=0.0, perspective=0.0,
        hsv_h=0.015, hsv_s=0.5, hsv_v=0.4, mosaic=1.0, mixup=0.0, close_mosaic=max(2, s.epochs // 10),
        **extra_args,
    )
