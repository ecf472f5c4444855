"""``traycheck replay``: the verification pipeline over a recorded shift.

The shift's video is the camera and its ``pos.jsonl`` the POS: each order is
handed to the pipeline when the stream reaches its time. A scenario file is
rendered to a temporary shift first. The menu is the shift's (its scenario.yaml
may name one) or ``--menu``; either must name only the model's classes.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from detectors.loader import load_detector
from edge.app.mqtt import MqttSettings
from edge.errors import InvalidInput
from edge.replay.folder_replay import replay_folder
from edge.replay.replay_hooks import HealthLog, PosScript, ReplayResult, replay_after
from edge.replay.replay_settings import StoredReplaySettings
from edge.replay.shift_input import checked_menu, prepare, shift_menu, shift_pos
from edge.replay.stored_replay import replay_stored
from edge.web.server import parse_listen
from orders.menu import load_menu

__all__ = ["HealthLog", "PosScript", "ReplayResult", "checked_menu", "prepare", "replay_after", "replay_folder",
           "run_replay", "shift_menu", "shift_pos"]


def run_replay(source: Path, speed: float | None, verdicts_path: Path | None, model: str | None = None,
               variant: str = "fp32", threads: int = 2, data_dir: Path | None = None, mqtt_url: str | None = None,
               site: str = "site", camera: str = "expo-1", http: str | None = None,
               video_out: Path | None = None, menu_file: Path | None = None,
               health_log: Path | None = None) -> ReplayResult:
    """Replay a shift; with ``data_dir`` store everything, with ``mqtt_url`` also publish (store-and-forward)."""
    mqtt = MqttSettings.from_url(mqtt_url, site) if mqtt_url else None  # bad URL: fail before any work
    listen = parse_listen(http) if http else None
    if data_dir is not None:
        try:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"--data-dir {data_dir}: cannot create it ({exc.strerror or exc})") from None
    menu = load_menu(menu_file) if menu_file is not None else None
    detector = load_detector(model, variant, threads=threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = prepare(source, Path(tmp))
        menu = checked_menu(folder, detector, menu)  # before a database or a server is opened
        if data_dir is None:
            result = replay_folder(folder, detector, speed, camera=camera, video_out=video_out, menu=menu,
                                   health_log=health_log)
        else:
            settings = StoredReplaySettings(Path(data_dir), mqtt=mqtt, site=site, camera=camera, speed=speed,
                                            listen=listen, video_out=video_out, health_log=health_log)
            result = replay_stored(folder, detector, settings, menu)
    if verdicts_path is not None:
        verdicts_path.parent.mkdir(parents=True, exist_ok=True)
        verdicts_path.write_text("".join(json.dumps(r) + "\n" for r in result.verdicts))
    return result
