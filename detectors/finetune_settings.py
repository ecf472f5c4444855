"""What one ``traycheck train --data DATASET`` run is asked to do (the command line's options).

Its own module so that every stage of the run (training data, training, teacher and
student) reads the same settings without importing the conductor, ``detectors.finetune``.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FinetuneSettings:
    """The options of one run; written into RUN/settings.json with what the run found."""

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
