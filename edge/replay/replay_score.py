"""One shift replayed and scored as ``traycheck eval`` scores it: its verdicts against the truth
and its camera health changes against ``camera_truth.jsonl`` (one camera alone, or one of N at
once: ``eval_cameras``)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from detectors.detections import ModelDetector
from edge.replay.evaluate import score_shift
from edge.replay.health_eval import read_camera_truth, read_changes, score_health, stream_seconds
from edge.replay.replay_settings import ReplayOptions
from edge.replay.runner import ReplayResult, replay_folder
from orders.menu import Menu


def replay_and_score(folder: Path, detector: ModelDetector, menu: Menu | None,
                     options: ReplayOptions = ReplayOptions()) -> tuple[dict, ReplayResult]:
    """``score_shift``'s rows with ``health`` added, and the replay's result."""
    o = options
    with tempfile.TemporaryDirectory(prefix="traycheck-health-") as tmp:
        health = Path(tmp) / "health.jsonl"
        result = replay_folder(folder, detector, o.speed, o.camera, progress=o.progress, run_id=o.run_id, menu=menu,
                               health_log=health, drop_late=o.drop_late)
        changes = read_changes(health)
    scored = score_shift(folder, result.verdicts, menu)
    scored["health"] = score_health(folder.name, read_camera_truth(folder), changes, stream_seconds(folder))
    return scored, result
