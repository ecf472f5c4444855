"""``traycheck doctor``: check everything the appliance needs, print a table, exit
non-zero when something is wrong. Safe to run beside the service: it only reads
(and writes one row it removes again in a scratch table).

Every check runs side by side and the whole run ends within ``--camera-timeout`` + 2 s
(plus a slow broker's own limit), whatever the number of cameras: each camera is tried in a
child process of its own (OpenCV opens FFmpeg streams one at a time per process, so threads
would wait for each other behind a silent camera), the other checks in threads.
"""
from __future__ import annotations

import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from rich.table import Table

from edge.app.config import Config
from edge.app.config_files import data_dir_problems, menu_problems, secret_problems
from edge.app.doctor_cameras import CameraProcess
from edge.app.model_store import active_model, config_menu, load_active
from edge.app.station_health import reference_row
from edge.core import console
from edge.errors import TrayCheckError
from edge.store.db import MIGRATIONS, schema_version


def _model(cfg: Config) -> tuple[bool, str]:
    """The model the service would start with (installed or detector.model), and its classes
    covering the menu: a menu naming a class the model lacks fails here, as at start."""
    import numpy as np

    try:
        det, _ = load_active(cfg, threads=cfg.detector.threads)
        config_menu(cfg, det)
    except TrayCheckError as exc:
        return False, str(exc)
    frame = np.full((480, 640, 3), 128, np.uint8)
    det.detect(frame)
    t0 = time.perf_counter()
    for _ in range(10):
        det.detect(frame)
    ms = (time.perf_counter() - t0) * 100
    why = getattr(cfg.detector, "variant_why", None)  # onnx: which file (INT8 or fp32) and why
    why_text = f"; {why(active_model(cfg)[0])}" if why else ""
    return True, (f"{getattr(det, 'path', '')} ({ms:.1f} ms/frame, {len(det.classes)} classes, menu covered"
                  f"{why_text})")


def _broker(cfg: Config) -> tuple[bool, str]:
    if cfg.mqtt is None:
        return True, "not configured (nothing leaves the box)"

    import paho.mqtt.client as mqtt

    m = cfg.mqtt
    result: dict = {}
    done = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="")
    if m.username:
        try:
            c.username_pw_set(m.username, m.resolved_password())
        except TrayCheckError as exc:  # an unreadable password file: a FAIL row, not a traceback
            return False, str(exc)
    if m.ca_file or m.cert_file:
        c.tls_set(ca_certs=m.ca_file, certfile=m.cert_file, keyfile=m.key_file)

    def on_connect(client, userdata, flags, rc, props) -> None:
        result["rc"] = rc
        done.set()

    c.on_connect = on_connect
    try:
        c.connect(m.host, m.port, 10)
    except OSError as exc:
        return False, f"{m.host}:{m.port}: {exc.strerror or exc}"
    c.loop_start()
    done.wait(8)
    c.loop_stop()
    c.disconnect()
    rc = result.get("rc")
    if rc is None:
        return False, f"{m.host}:{m.port}: no answer"
    if rc.is_failure:
        return False, f"{m.host}:{m.port}: refused ({rc})"
    return True, f"{m.host}:{m.port} accepted the credentials"


def _database(cfg: Config) -> tuple[bool, str]:
    """The database read-only (never migrated or written by doctor: the service may be running):
    readable, its schema version against this TrayCheck's, ``quick_check``; and the data directory
    writable (a scratch file, not the database)."""
    data = Path(cfg.data_dir)
    path = data / "traycheck.db"
    try:
        scratch = data / ".doctor-scratch"
        data.mkdir(parents=True, exist_ok=True)
        scratch.write_bytes(b"x")
        scratch.unlink()
    except OSError as exc:
        return False, f"{data}: not writable ({exc.strerror or exc})"
    if not path.exists():
        return True, f"{path}: not created yet (the service creates it at start)"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            version = schema_version(conn)
            check = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:
        return False, f"{path}: CORRUPT or unreadable ({exc}): restore a backup or move it aside"
    problems = [r[0] for r in check if r[0] != "ok"]
    if problems:
        return False, f"{path} (schema {version}): CORRUPT: {problems[0]} ({len(problems)} problems)"
    if version > len(MIGRATIONS):
        return False, f"{path}: schema {version} is from a newer TrayCheck (this one knows {len(MIGRATIONS)})"
    upgrade = f", upgraded to {len(MIGRATIONS)} at the next start" if version < len(MIGRATIONS) else ""
    return True, f"{path} (schema {version}{upgrade}, healthy)"


def _disk(cfg: Config) -> tuple[bool, str]:
    d = Path(cfg.data_dir)
    d.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(d).free / 2**20
    return free >= cfg.retention.min_free_mb, f"{free:.0f} MB free (floor {cfg.retention.min_free_mb:.0f} MB)"


def _clock() -> tuple[bool, str]:
    now = datetime.now(timezone.utc)
    return 2025 <= now.year <= 2100, now.strftime("%Y-%m-%d %H:%M:%S UTC")


def _files(cfg: Config) -> tuple[bool, str]:
    """The files no other row covers (the camera and model rows try theirs): the same lines
    ``run`` refuses to start on and ``config check`` prints."""
    files = data_dir_problems(cfg, create=False) + secret_problems(cfg) + menu_problems(cfg)
    return not files, "; ".join(files) or "secret files readable, data dir writable"


def _guarded(check: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
    """A check's row; an unexpected error is a FAIL row with its reason, never a traceback."""
    try:
        return check()
    except TrayCheckError as exc:
        return False, str(exc)
    except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
        return False, f"check failed ({type(exc).__name__}: {exc})"


def run_doctor(cfg: Config, camera_timeout: float = 15.0) -> bool:
    """Every check side by side: the cameras each in a child process (started first, before
    any thread: a fork copies only the calling thread), the rest in threads. It ends within
    ``camera_timeout`` + ``CHILD_GRACE_S`` or the slowest other check, whatever the cameras do."""
    cams = [(f"camera {cam.name}", CameraProcess(cam.name, cam.source, camera_timeout)) for cam in cfg.cameras]
    data = Path(cfg.data_dir)
    others: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
        ("files", lambda: _files(cfg))]
    views = [(f"view {cam.name}", lambda name=cam.name: reference_row(data, name)) for cam in cfg.cameras]
    rest: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
        ("model", lambda: _model(cfg)), ("broker", lambda: _broker(cfg)), ("database", lambda: _database(cfg)),
        ("disk", lambda: _disk(cfg)), ("clock", _clock)]
    with ThreadPoolExecutor(max_workers=len(cams) + len(others) + len(views) + len(rest),
                            thread_name_prefix="doctor") as pool:
        camera_rows = [(name, pool.submit(check.result)) for name, check in cams]
        other_rows = [(name, pool.submit(_guarded, fn)) for name, fn in others + views + rest]
        done = {name: future.result() for name, future in camera_rows + other_rows}
    order = [name for name, _ in others] + [name for name, _ in cams] + [name for name, _ in views] + \
        [name for name, _ in rest]
    checks = [(name, done[name]) for name in order]
    t = Table(title=f"traycheck doctor ({socket.gethostname()})")
    t.add_column("check")
    t.add_column("result")
    t.add_column("detail")
    for name, (ok, detail) in checks:
        t.add_row(name, "[green]ok[/green]" if ok else "[red]FAIL[/red]", detail)
    console.print(t)
    return all(ok for _, (ok, _) in checks)
