"""Export trained weights to ONNX fp32 and static INT8, score both files, and describe them.

INT8 is ``detectors.quantize``'s static quantisation, calibrated on rendered
frames (the demo model) or on a dataset's own photos (a site model). The scores
go into ``<name>.json`` beside the model files, with how they were made; a site
model also gets a threshold per class chosen on its val split. Every model gets
its look-alike pairs from the INT8 file's confusion matrix on the val split.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detectors.classes import CLASSES
from detectors.datasets.importer import load_manifest
from detectors.evaluation.lookalikes import lookalike_pairs, val_confusion
from detectors.onnx_rewrite import fast_dfl
from detectors.quantize import CALIB_PERCENTILE, CALIB_SEED, quantize_int8
from detectors.synth.dataset import write_dataset
from detectors.training_set import read_dataset, split_images
from edge.core import console, progress_bar
from edge.errors import InvalidInput

INPUT_HW = (256, 320)  # a 4:3 frame at 320 wide: 240 rows + 2 x 8 rows of padding (stride 32)
OPERATING_CONF = 0.25  # a site model's operating threshold: model compare measures count accuracy here


def validate(model: Path, data_yaml: Path, imgsz: tuple[int, int], per_class: bool = False) -> dict:
    """mAP50 and mAP50-95 from ultralytics' own ``val`` on the model file (and per class)."""
    from detectors.train import require_ultralytics

    YOLO = require_ultralytics()
    with tempfile.TemporaryDirectory() as tmp:
        r = YOLO(str(model), task="detect").val(data=str(data_yaml), imgsz=list(imgsz), batch=1, device="cpu",
                                                plots=False, verbose=False, project=tmp, name="val")
    out: dict = {"mAP50": round(float(r.box.map50), 4), "mAP50-95": round(float(r.box.map), 4)}
    if per_class:
        out["per_class"] = {r.names[int(c)]: {"AP50": round(float(r.box.ap50[k]), 4),
                                              "AP50-95": round(float(r.box.ap[k]), 4)}
                            for k, c in enumerate(r.box.ap_class_index)}
    return out


def input_hw_for(imgsz: int, photos: list[Path]) -> tuple[int, int]:
    """The fixed ONNX input for photos of this shape: ``imgsz`` wide, rows for the median aspect
    rounded up to the stride (4:3 at 384 -> 288 x 384), so no pixel is wasted on padding."""
    ratios = []
    for p in photos[:: max(1, len(photos) // 50)]:
        img = cv2.imread(str(p), cv2.IMREAD_REDUCED_GRAYSCALE_8)
        if img is not None:
            ratios.append(img.shape[0] / img.shape[1])
    ratio = min(1.0, float(np.median(ratios))) if ratios else 1.0
    return int(np.ceil(imgsz * ratio / 32) * 32), int(imgsz)


def export_all(weights: Path, name: str, out_dir: Path, calib: int, val_images: int, val_seed: int,
               settings: Path | None, data: Path | None = None) -> dict:
    """Write <name>.onnx, <name>.int8.onnx, <name>.pt and <name>.json into ``out_dir``.

    Without ``data`` the model is the demo model (the ten rendered classes), calibrated and scored on
    renders. With ``data`` (a dataset from ``data import``), INT8 is calibrated on the dataset's own
    training photos and both files are scored on its val split, per class.
    """
    from detectors.train import require_ultralytics

    weights = Path(weights)
    if not weights.is_file():
        raise InvalidInput(f"weights file {weights}: not found")
    ds = _dataset(data) if data is not None else None
    YOLO = require_ultralytics()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = YOLO(str(weights))
    classes = _check_classes(model, weights, ds)
    input_hw = INPUT_HW
    if ds is not None:
        imgsz = int((getattr(model, "ckpt", None) or {}).get("train_args", {}).get("imgsz", INPUT_HW[1]))
        input_hw = input_hw_for(imgsz, ds["train"] + ds["val"])
    fp32 = _export_fp32(weights, input_hw, out_dir / f"{name}.onnx")
    int8 = quantize_int8(fp32, out_dir / f"{name}.int8.onnx", calib, photos=ds["train"] if ds else None)
    pt = out_dir / f"{name}.pt"
    if weights.resolve() != pt.resolve():
        shutil.copy(weights, pt)
    metrics, class_conf = _score(fp32, int8, ds, classes, input_hw, val_images, val_seed)
    meta = _metadata(name, classes, input_hw, (fp32, int8, pt), _train_settings(settings, weights), calib, ds,
                     metrics)
    if class_conf is not None:
        meta["class_conf"] = class_conf
    meta["lookalikes"] = lookalike_pairs(np.array(metrics["confusion"]["matrix"]), classes)
    console.print(f"look-alike pairs (val confusion): {', '.join('/'.join(p) for p in meta['lookalikes']) or 'none'}")
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _export_fp32(weights: Path, input_hw: tuple[int, int], fp32: Path) -> Path:
    """ultralytics' ONNX export at a fixed input shape, moved to ``fp32``, its DFL rewritten to run faster.
    ultralytics writes the export beside the weights it loaded, so it exports a copy in a folder of its
    own: a ``<weights>.onnx`` the user keeps beside the weights (the bundled model's) is never touched."""
    from detectors.train import require_ultralytics

    with tempfile.TemporaryDirectory(prefix="traycheck-export-") as tmp:
        copy = Path(tmp) / weights.name
        shutil.copy(weights, copy)
        model = require_ultralytics()(str(copy))
        onnx_tmp = Path(model.export(format="onnx", imgsz=list(input_hw), simplify=True, dynamic=False,
                                     half=False, device="cpu", verbose=False))
        shutil.move(str(onnx_tmp), fp32)
    fast_dfl(fp32)
    return fp32


def _score(fp32: Path, int8: Path, ds: dict | None, classes: list[str], input_hw: tuple[int, int],
           val_images: int, val_seed: int) -> tuple[dict, dict[str, float] | None]:
    """The metrics of both files (on the dataset's val split, else on renders) and, for a dataset,
    the threshold per class chosen on it."""
    if ds is None:
        return _render_metrics(fp32, int8, classes, val_images, val_seed), None
    metrics = {"dataset": str(ds["root"]), "dataset_hash": ds["hash"], "val_images": len(ds["val"]),
               "fp32": validate(fp32, ds["yaml"], input_hw, True), "int8": validate(int8, ds["yaml"], input_hw,
                                                                                      True)}
    class_conf, metrics["counting"] = choose_thresholds(int8, ds, classes)
    metrics["confusion"] = val_confusion(int8, ds["yaml"], classes, [class_conf[c] for c in classes])
    return metrics, class_conf


def choose_thresholds(model: Path, ds: dict, classes: list[str]) -> tuple[dict[str, float], dict]:
    """``class_conf`` for ``model`` (the INT8 file: what the appliance runs) from the dataset's val
    photos, and the val count accuracy at one global threshold and at those (for the metadata)."""
    from detectors.evaluation.class_conf import FLOOR, as_metadata, choose_class_conf, counts_at
    from detectors.evaluation.dataset import load_labelled
    from detectors.onnx_backend import OnnxDetector

    data = load_labelled(ds["yaml"], "val")
    det = OnnxDetector(model, conf=FLOOR, classes=classes)  # (its metadata is written after scoring)
    dets, gt = [], []
    with progress_bar(f"Choosing a threshold per class on {len(data.images)} val photos", len(data.images)) as adv:
        for item in data.images:
            img = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
            if img is not None:
                dets.append(det.detect(img))
                gt.append(np.bincount(item.classes, minlength=len(classes))[: len(classes)])
            adv(1)
    gt_counts = np.array(gt, np.int64).reshape(len(gt), len(classes))
    thr = choose_class_conf(dets, gt_counts, start=OPERATING_CONF)

    def accuracy(t: np.ndarray) -> float:
        return round(float((counts_at(dets, t) == gt_counts).all(axis=1).mean()), 4) if len(gt) else 0.0

    chosen = as_metadata(classes, thr)
    counting = {"val_photos": len(gt), "count_accuracy_at_operating_conf":
                accuracy(np.full(len(classes), OPERATING_CONF)), "count_accuracy_at_class_conf": accuracy(thr)}
    console.print(f"class_conf (chosen on the val split): {', '.join(f'{c} {t}' for c, t in chosen.items())}; "
                  f"val photos counted right: {counting['count_accuracy_at_operating_conf']:.1%} at "
                  f"{OPERATING_CONF} -> {counting['count_accuracy_at_class_conf']:.1%}")
    return chosen, counting


def _check_classes(model: Any, weights: Path, ds: dict | None) -> list[str]:
    """The model's class names; they must be the bundled ones (demo model) or the dataset's."""
    classes = [model.names[i] for i in sorted(model.names)]
    if ds is None and tuple(classes) != CLASSES:
        raise InvalidInput(f"{weights}: classes {classes} differ from the bundled class list; "
                        "pass --data DATASET to calibrate and score on that dataset")
    if ds is not None and classes != ds["classes"]:
        raise InvalidInput(f"{weights}: classes {classes} differ from the dataset's {ds['classes']}")
    return classes


def _train_settings(settings: Path | None, weights: Path) -> dict:
    """The training settings to record: ``--settings``, else the run's settings.json beside the weights."""
    train_settings = json.loads(Path(settings).read_text()) if settings else {}
    if not train_settings and (weights.parent / "settings.json").is_file():
        train_settings = json.loads((weights.parent / "settings.json").read_text())
    return train_settings


def _metadata(name: str, classes: list[str], input_hw: tuple[int, int], files: tuple[Path, Path, Path],
              train_settings: dict, calib: int, ds: dict | None, metrics: dict) -> dict:
    """<name>.json: what the model files are, how they were made and how well they score."""
    fp32, int8, pt = files
    meta: dict = {
        "name": name,
        "classes": classes,
        "imgsz": list(input_hw),
        "input": "NCHW float32 RGB 0..1, letterboxed (pad 114), fixed shape",
        "files": {"fp32": fp32.name, "int8": int8.name, "pt": pt.name},
        "train": train_settings,
        "calibration": {"frames": calib, "seed": CALIB_SEED, "method": f"Percentile {CALIB_PERCENTILE}",
                        "source": f"dataset {ds['root']} (train split)" if ds else "rendered trays",
                        "per_channel": True,
                        "float_nodes": "stem (model.0-1), Detect box decoding and box-branch output convs"},
        "metrics": metrics,
    }
    if ds is not None:  # the appliance counts items at the threshold the site's figures are measured at
        meta["operating_conf"] = OPERATING_CONF
    return meta


def _render_metrics(fp32: Path, int8: Path, classes: list[str], val_images: int, val_seed: int) -> dict:
    """The demo model's figures on freshly rendered val trays: both files' mAP, the INT8 file's confusion
    at ``OPERATING_CONF``."""
    with tempfile.TemporaryDirectory() as tmp:
        with progress_bar(f"Rendering {val_images} validation trays (seed {val_seed})", val_images) as advance:
            data = write_dataset(Path(tmp) / "val", val_images, val_seed, 1.0, advance)
        return {"val_seed": val_seed, "val_images": val_images,
                "fp32": validate(fp32, data, INPUT_HW), "int8": validate(int8, data, INPUT_HW),
                "confusion": val_confusion(int8, data, classes, OPERATING_CONF)}


def _dataset(data: Path) -> dict:
    """Class names, photos per split and hash of a dataset folder (or its data.yaml)."""
    yml, d, classes = read_dataset(Path(data))
    train, val = split_images(yml, d, "train"), split_images(yml, d, "val")
    if not val:
        raise InvalidInput(f"--data {data}: the val split has no images to score the model on")
    return {"yaml": yml, "root": yml.parent, "classes": classes, "train": train or val, "val": val,
            "hash": load_manifest(yml.parent).get("hash")}
