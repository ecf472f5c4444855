"""``traycheck run``: check the machine, build the appliance, run it until SIGTERM/SIGINT
(SIGHUP reloads), stop it cleanly."""
from __future__ import annotations

import signal
from pathlib import Path

from edge.app.config import Config
from edge.app.config_files import startup_problems
from edge.app.service import Service
from edge.errors import InvalidInput


def run_service(cfg: Config, config_path: Path | None = None) -> None:
    problems = startup_problems(cfg)  # one line each and exit 2, never a traceback or a restart loop
    if problems:
        where = f"config {config_path}: " if config_path else ""
        raise InvalidInput("\n".join(where + p for p in problems))
    svc = Service(cfg, config_path)
    signal.signal(signal.SIGTERM, svc.request_stop)
    signal.signal(signal.SIGINT, svc.request_stop)
    signal.signal(signal.SIGHUP, svc.request_reload)
    svc.start()
    try:
        svc.wait()
    finally:
        svc.stop()
