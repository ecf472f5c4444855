"""What the dashboard's system page shows: cameras, broker, outbox, detector, disk, model."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from edge.web.live import LiveHub, health_text


def storage_state(recorder) -> str:
    """'ok', or why verdicts are not being stored (the dashboard shows it as a banner)."""
    problem = getattr(recorder, "problem", None)
    if problem is None:
        return "ok"
    return f"NOT STORING: {problem} ({recorder.pending} verdicts kept in memory, stored when the disk allows)"


def _state_text(st: dict | None) -> str:
    """"ok", or "reconnecting since 02:31:05 UTC (42 s): stream ... did not answer"."""
    if not st:
        return "-"
    if st["state"] == "ok":
        return "ok"
    return f"{st['state']} since {st['since'][11:19]} UTC ({st['for_s']:.0f} s): {st['reason']}"


def system_info(hub: LiveHub, store, publisher, model: str, data_dir: Path, fps_of=None,
                reconnects_of=None, state_of=None, recorder=None, model_figures: str = "-") -> dict:
    cams = []
    for name, pipe in sorted(hub.pipelines.items()):
        stats = hub.stats.get(name)
        f = pipe.last_frame
        elapsed = time.monotonic() - stats.started if stats else 0.0
        st = state_of(name) if state_of else None
        health = pipe.health.current
        cams.append({"name": name, "state": _state_text(st), "health": health["state"],
                     "health_text": health_text(health) or "all checks ok",
                     "fps": fps_of(name) if fps_of else (pipe.frames / elapsed if elapsed else 0.0),
                     "last_frame": f"t={f.t:.1f} s of the stream" if f else "none yet",
                     "reconnects": reconnects_of(name) if reconnects_of else 0,
                     "dropped": (st or {}).get("dropped", 0),  # frames dropped while behind (never queued)
                     "detector_ms": f"{np.median(pipe.recent_detect_ms):.1f} ms" if pipe.recent_detect_ms else "-"})
    disk = shutil.disk_usage(data_dir)
    db_bytes = sum(p.stat().st_size for p in Path(data_dir).glob("traycheck.db*") if p.is_file())
    broker = "not configured (everything stays on the box)"
    if publisher is not None:
        link = publisher.settings
        broker = f"{link.host}:{link.port} " + ("connected" if publisher.connected.is_set() else "NOT CONNECTED")
    return {"cameras": cams, "storage": storage_state(recorder), "broker": broker,
            "outbox_length": store.outbox_len() if store.use_outbox else 0,
            "open_alerts": store.open_alerts(), "model": model, "model_figures": model_figures,
            "disk_free": f"{disk.free / 2**30:.1f} GiB of {disk.total / 2**30:.1f} GiB",
            "database_size": f"{db_bytes / 2**20:.1f} MiB", "data_dir": str(data_dir)}
