"""Progress of a command made of stages (prepare, teacher, pseudo-labels, student) within one time budget.

One line per stage and per epoch, so a person watching a long ``train --data`` run sees
where it is and how much of its ``--hours`` it has used, across the stages.
"""
from __future__ import annotations

import time
from typing import Any

from edge.core import console


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
