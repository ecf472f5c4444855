"""Train the tray detector with ultralytics on renderer output (``traycheck train``).

Needs the ``[train]`` extra (ultralytics, torch). Nothing is downloaded: the
model starts from the YAML in ``detectors/models/`` with random weights, and
the data comes from ``detectors.synth.dataset``.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from edge.errors import InvalidInput

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL_YAML = MODELS_DIR / "traycheck-yolov8n.yaml"


@dataclass
class TrainSettings:
    model_yaml: str = str(DEFAULT_MODEL_YAML)
    imgsz: int = 320
    images: int = 1200
    val_images: int = 200
    epochs: int = 40
    hours: float | None = None  # ultralytics 'time': fits the LR schedule into this budget
    batch: int = 16
    seed: int = 0
    workers: int = 2
    init_weights: str | None = None  # fine-tune these .pt weights instead of starting from the YAML
    lr0: float | None = None  # None: ultralytics picks optimizer and rate; set it for fine-tuning
    mosaic: float = 1.0

    @property
    def val_seed(self) -> int:
        return self.seed + 100_000


def require_ultralytics():
    """Import ultralytics offline, or explain how to get it."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    try:
        import ultralytics  # noqa: F401
        from ultralytics import YOLO
    except ImportError:
        raise InvalidInput("training needs the [train] extra: pip install -e '.[train]'") from None
    from ultralytics.utils import SETTINGS

    SETTINGS.update({"sync": False})
    return YOLO


def train(s: TrainSettings, out_dir: Path, make_data) -> Path:
    """Render train/val sets (``make_data(dir, n, seed, val_fraction)``), train, return best.pt."""
    YOLO = require_ultralytics()
    if not Path(s.model_yaml).is_file():
        raise InvalidInput(f"model YAML {s.model_yaml}: not found")
    out_dir = Path(out_dir).resolve()
    train_yaml = make_data(out_dir / "data-train", s.images, s.seed, 0.0)
    val_yaml = make_data(out_dir / "data-val", s.val_images, s.val_seed, 1.0)
    import yaml

    data = yaml.safe_load(Path(train_yaml).read_text())
    data["val"] = str(Path(val_yaml).parent / "images" / "val")
    combined = out_dir / "data.yaml"
    combined.write_text(yaml.safe_dump(data, sort_keys=False))
    if s.init_weights is not None and not Path(s.init_weights).is_file():
        raise InvalidInput(f"weights file {s.init_weights}: not found")
    model = YOLO(s.model_yaml)
    if s.init_weights:  # transfer matching weights into the YAML's architecture (e.g. a new activation)
        model.load(s.init_weights)
    extra: dict = {"time": s.hours} if s.hours else {}
    if s.lr0 is not None:
        extra.update(optimizer="AdamW", lr0=s.lr0, warmup_epochs=0.5)
    model.train(
        data=str(combined), imgsz=s.imgsz, epochs=s.epochs, batch=s.batch, workers=s.workers,
        seed=s.seed, deterministic=True, device="cpu", amp=False, plots=False, cache="ram",
        project=str(out_dir), name="train", exist_ok=True, pretrained=s.init_weights is not None, patience=1000,
        degrees=0.0, flipud=0.5, fliplr=0.5, scale=0.25, translate=0.1, mosaic=s.mosaic,
        close_mosaic=max(1, s.epochs // 5), verbose=False, **extra,
    )
    best = out_dir / "train" / "weights" / "best.pt"
    if not best.is_file():
        raise InvalidInput(f"training finished without {best}")
    (out_dir / "settings.json").write_text(__import__("json").dumps(asdict(s), indent=1))
    return best
