"""One ultralytics training run of a site model: augmentation for a fixed top-down camera, every core
of the box, the stage bar after each epoch. Used for the teacher, the student and a plain run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from detectors.finetune_settings import FinetuneSettings
from detectors.stage_bar import StageBar
from edge.errors import InvalidInput

RESERVE_S = 90.0  # of the budget, kept for the last run's final validation and the files after it

def use_all_cores(model: Any) -> None:
    """ultralytics trains on CPU with cores - 1 threads (1 on a 2-core box: half the machine idle);
    the box is ours while it trains, so take every core at the start of each epoch."""
    import os

    import torch

    def take(_trainer: Any) -> None:
        torch.set_num_threads(os.cpu_count() or 1)

    for event in ("on_train_start", "on_train_epoch_start"):
        model.add_callback(event, take)


def train_run(model: Any, s: FinetuneSettings, data_yaml: Path, run: Path, name: str, hours: float | None,
              bar: StageBar) -> Path:
    """ultralytics' training run into RUN/<name>, with augmentation for a fixed top-down camera; its best.pt."""
    use_all_cores(model)
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
        raise InvalidInput(f"training finished without {best}")
    return best
