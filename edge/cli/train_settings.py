"""``traycheck train``'s options gathered in one place: the rule between them and the settings of
either kind of run (fine-tuning on a site's photos with ``--data``, or training on rendered trays),
so that the command itself stays a list of options."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from detectors.finetune_settings import FinetuneSettings
from detectors.train import DEFAULT_MODEL_YAML, TrainSettings
from edge.errors import InvalidInput


@dataclass(frozen=True)
class TrainOptions:
    """The options as given; None where the kind of run picks its own default."""

    data: Path | None = None
    from_model: str | None = None
    unlabelled: list[Path] = field(default_factory=list)
    synthetic: int = 0
    copy_paste: int | None = None
    images: int = 1500
    val_images: int = 150
    epochs: int | None = None
    hours: float | None = None
    imgsz: int | None = None
    batch: int = 16
    seed: int = 0
    model_yaml: Path | None = None
    weights: Path | None = None
    lr0: float | None = None
    mosaic: float = 1.0

    def __post_init__(self) -> None:
        if self.data is None and (self.from_model or self.unlabelled):
            raise InvalidInput("--from and --unlabelled need --data DATASET (they fine-tune on a site's own photos)")

    def finetune(self) -> FinetuneSettings:
        """Fine-tuning on ``--data`` (defaults: 60 epochs at 384)."""
        return FinetuneSettings(data=str(self.data), from_model=self.from_model, hours=self.hours,
                                epochs=self.epochs or 60, imgsz=self.imgsz or 384, batch=self.batch, seed=self.seed,
                                copy_paste=self.copy_paste, synthetic=self.synthetic,
                                unlabelled=[str(u) for u in self.unlabelled])

    def rendered(self) -> TrainSettings:
        """Training on rendered trays (defaults: 40 epochs at 320, the bundled model YAML)."""
        return TrainSettings(model_yaml=str(self.model_yaml or DEFAULT_MODEL_YAML), imgsz=self.imgsz or 320,
                             images=self.images, val_images=self.val_images, epochs=self.epochs or 40,
                             hours=self.hours, batch=self.batch, seed=self.seed,
                             init_weights=str(self.weights) if self.weights else None, lr0=self.lr0,
                             mosaic=self.mosaic)
