"""How a replay is asked to run, typed rather than passed as loose keywords: the options of a
plain replay that ``traycheck eval`` scores, and the settings of a stored replay (``traycheck
replay --data-dir``) through the appliance's own wiring."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.app.mqtt_settings import MqttSettings


@dataclass(frozen=True)
class ReplayOptions:
    """``replay_folder``'s options for a scored replay (one camera alone, or one of N at once)."""

    speed: float | None = None  # None: as fast as possible; N: N times real time
    camera: str = "expo-1"
    progress: bool = True
    drop_late: bool = False  # (with a speed) frames that come too late are skipped, as a live camera's are
    run_id: str | None = None  # part of every verdict id; None: "replay:<shift folder>"


@dataclass(frozen=True)
class StoredReplaySettings:
    """Where a stored replay keeps what it makes, and what it publishes and serves meanwhile."""

    data_dir: Path
    mqtt: MqttSettings | None = None  # --mqtt: publish too (store-and-forward)
    site: str = "site"
    camera: str = "expo-1"
    speed: float | None = None
    listen: tuple[str, int] | None = None  # --http: the API and dashboard during the replay
    video_out: Path | None = None  # --video: the annotated replay
    health_log: Path | None = None  # --health: camera health changes, as JSON lines
