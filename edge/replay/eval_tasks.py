"""The units of ``traycheck eval``'s work (a recorded shift, a fresh scenario, a noise draw of
one) and how they run: in order with one detector, or ``--jobs`` processes with one each."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from detectors.detections import ModelDetector
from detectors.loader import load_detector
from detectors.synth.scenario import load_scenario
from detectors.synth.shift import render_shift
from edge.core import console
from edge.replay.fresh import render_fresh_one
from edge.replay.replay_score import replay_and_score
from edge.replay.replay_settings import ReplayOptions
from orders.menu import Menu, load_menu


@dataclass
class EvalRequest:
    """What ``traycheck eval`` was asked for (the CLI's options)."""

    path: Path | None = None
    verdicts: Path | None = None
    model: str | None = None
    variant: str = "fp32"
    threads: int = 2
    quiet: bool = False
    menu_file: Path | None = None
    fresh: int = 0
    kinds: list[str] = field(default_factory=lambda: ["rush-hard"])
    seed: int | None = None
    repeats: int = 0
    keep: Path | None = None
    jobs: int = 1
    cameras: int = 0  # > 0: the shifts on this many cameras at once, in real time (``eval_cameras``)


def say(req: EvalRequest, msg: str) -> None:
    """A progress line, unless ``--json`` asked for the report alone."""
    if not req.quiet:
        console.print(msg, highlight=False)


class Scorer:
    """Replays shifts with one detector (loaded on first use) and scores them."""

    def __init__(self, req: EvalRequest):
        self.req = req
        self.menu: Menu | None = load_menu(req.menu_file) if req.menu_file is not None else None
        self.detector: ModelDetector | None = None

    def __call__(self, folder: Path) -> dict:
        self.detector = self.detector or load_detector(self.req.model, self.req.variant, threads=self.req.threads)
        return replay_and_score(folder, self.detector, self.menu, ReplayOptions(progress=not self.req.quiet))[0]


def _task(req: EvalRequest, task: tuple, scorer: Scorer | None = None) -> dict:
    """One unit of work: ("shift", folder) | ("fresh", kind, seed, out) | ("draw", folder, k, out)."""
    score = scorer or Scorer(req)
    if task[0] == "shift":
        return score(task[1])
    if task[0] == "fresh":
        _, kind, seed, out = task
        return score(render_fresh_one(kind, seed, out, lambda m: say(req, m)))
    _, folder, k, out = task
    say(req, f"rendering {folder.name} with noise draw {k}")
    return score(render_shift(load_scenario(folder / "scenario.yaml"), out / f"{folder.name}-draw{k}", draw=k)) \
        | {"shift": folder.name, "draw": k}


def run_tasks(req: EvalRequest, tasks: list[tuple]) -> list[dict]:
    """The tasks in order, ``req.jobs`` at a time (each job a process with its own detector)."""
    if req.jobs <= 1 or len(tasks) <= 1:
        scorer = Scorer(req)
        return [_task(req, t, scorer) for t in tasks]
    from concurrent.futures import ProcessPoolExecutor

    quiet = EvalRequest(**{**req.__dict__, "quiet": True})
    with ProcessPoolExecutor(min(req.jobs, len(tasks))) as pool:
        return list(pool.map(_task, [quiet] * len(tasks), tasks))
