"""``traycheck doctor``: check everything the appliance needs, print a table, exit
non-zero when something is wrong. Safe to run beside the service: it only reads
(and writes one row it removes again in a scratch table)."""
from __future__ import annotations

import shutil
import socket
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.table import Table

from edge.config import Config
from edge.progress import console


def _camera(name: str, source: str, timeout: float = 15.0) -> tuple[bool, str]:
    from edge.capture import open_source
    from edge.errors import UserError

    try:
        src = open_source(source, speed=None)
    except UserError as exc:
        return False, str(exc)
    t0 = time.monotonic()
    n = 0
    try:
        for frame in src.frames():
            n += 1
            if n >= 5 or time.monotonic() - t0 > timeout:
                break
    finally:
        src.stop()
    if n == 0:
        return False, f"no frame within {timeout:.0f} s"
    return True, f"{n} frames, {frame.image.shape[1]}x{frame.image.shape[0]}"


def _model(cfg: Config) -> tuple[bool, str]:
    """The model the service would start with (installed or detector.model), and its classes
    covering the menu: a menu naming a class the model lacks fails here, as at start."""
    import numpy as np

    from edge.errors import UserError
    from edge.model_store import config_menu, load_active

    try:
        det, _ = load_active(cfg, threads=cfg.detector.threads)
        config_menu(cfg, det)
    except UserError as exc:
        return False, str(exc)
    frame = np.full((480, 640, 3), 128, np.uint8)
    det.detect(frame)
    t0 = time.perf_counter()
    for _ in range(10):
        det.detect(frame)
    ms = (time.perf_counter() - t0) * 100
    return True, f"{getattr(det, 'path', '')} ({ms:.1f} ms/frame, {len(det.classes)} classes, menu covered)"


def _broker(cfg: Config) -> tuple[bool, str]:
    if cfg.mqtt is None:
        return True, "not configured (nothing leaves the box)"
    import threading

    import paho.mqtt.client as mqtt

    m = cfg.mqtt
    result: dict = {}
    done = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="")
    if m.username:
        from edge.errors import UserError

        try:
            c.username_pw_set(m.username, m.resolved_password())
        except UserError as exc:  # an unreadable password file: a FAIL row, not a traceback
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
    from edge.store.db import open_db, schema_version

    path = Path(cfg.data_dir) / "traycheck.db"
    try:
        db = open_db(path)
        db.execute("CREATE TABLE IF NOT EXISTS doctor_scratch (x)")
        db.execute("INSERT INTO doctor_scratch VALUES (1)")
        db.execute("DROP TABLE doctor_scratch")
        ok = db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        version = schema_version(db)
        db.close()
    except (sqlite3.Error, OSError) as exc:
        return False, f"{path}: {exc}"
    return ok, f"{path} (schema {version}, {'healthy' if ok else 'CORRUPT'})"


def _disk(cfg: Config) -> tuple[bool, str]:
    d = Path(cfg.data_dir)
    d.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(d).free / 2**20
    return free >= cfg.retention.min_free_mb, f"{free:.0f} MB free (floor {cfg.retention.min_free_mb:.0f} MB)"


def _clock() -> tuple[bool, str]:
    now = datetime.now(timezone.utc)
    return 2025 <= now.year <= 2100, now.strftime("%Y-%m-%d %H:%M:%S UTC")


def run_doctor(cfg: Config) -> bool:
    from edge.config_files import data_dir_problems, secret_problems

    # the files no other row covers (the camera and model rows try theirs)
    files = data_dir_problems(cfg, create=False) + secret_problems(cfg)
    checks: list[tuple[str, tuple[bool, str]]] = [
        ("files", (not files, "; ".join(files) or "secret files readable, data dir writable"))]
    for cam in cfg.cameras:
        checks.append((f"camera {cam.name}", _camera(cam.name, cam.source)))
    checks += [("model", _model(cfg)), ("broker", _broker(cfg)), ("database", _database(cfg)),
               ("disk", _disk(cfg)), ("clock", _clock())]
    t = Table(title=f"traycheck doctor ({socket.gethostname()})")
    t.add_column("check")
    t.add_column("result")
    t.add_column("detail")
    for name, (ok, detail) in checks:
        t.add_row(name, "[green]ok[/green]" if ok else "[red]FAIL[/red]", detail)
    console.print(t)
    return all(ok for _, (ok, _) in checks)
