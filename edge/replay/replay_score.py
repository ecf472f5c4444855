"""One shift replayed and scored as ``traycheck eval`` scores it: its verdicts against the truth
and its camera health changes against ``camera_truth.jsonl`` (one camera alone, or one of N at
once: ``eval_cameras``)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from detectors.detections import ModelDetector
from edge.replay.evaluate import score_shift
from edge.replay.health_eval import read_camera_truth, read_changes, score_health, stream_seconds
from edge.replay.runner import ReplayResult, replay_folder
from orders.menu import Menu


def replay_and_score(folder: Path, detector: ModelDetector, menu: Menu | None,
                     **replay: Any) -> tuple[dict, ReplayResult]:
    """``score_shift``'s rows with ``health`` added, and the replay's result; ``replay``: more
    ``replay_folder`` options (speed, camera, progress, drop_late...)."""
    with tempfile.TemporaryDirectory(prefix="traycheck-health-") as tmp:
        health = Path(tmp) / "health.jsonl"
        result = replay_folder(folder, detector, menu=menu, health_log=health, **replay)
        changes = read_changes(health)
    scored = score_shift(folder, result.verdicts, menu)
    scored["health"] = score_health(folder.name, read_camera_truth(folder), changes, stream_seconds(folder))
    return scored, result
