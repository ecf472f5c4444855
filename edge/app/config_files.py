"""The files a config names, checked before anything starts.

The config's own validation (``edge.app.config``) only looks at the YAML; this looks at
the machine: every referenced file (menu, model, camera files, secrets, TLS files)
exists and is readable, the secrets the service keeps in its data directory (API token,
session key) are whole, and the data directory is writable. ``config check`` lists
every problem, one line each; ``run`` refuses to start on any of the fatal ones with
exit status 2, which the unit's ``RestartPreventExitStatus=2`` does not restart, so a
broken install never turns into a restart loop.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from detectors.model_info import resolve_model
from edge.app.config import Config
from edge.app.model_store import active_model
from edge.errors import TrayCheckError
from edge.store.secret_files import secret_problem
from edge.web.auth import session_key_problem
from edge.web.token import api_token_problem

LIVE_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "/dev/video")
SECRET_ENV = {"mqtt.password_file": "TRAYCHECK_MQTT_PASSWORD"}  # the variable wins over the file


def unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file by this process, or None. It opens the file
    (root ignores file modes, so ``os.access`` would say yes where the service user gets no)."""
    try:
        with open(path, "rb") as f:
            f.read(1)
    except FileNotFoundError:
        return "not found"
    except IsADirectoryError:
        return "is a folder, not a file"
    except PermissionError:
        return "not readable by this user (permission denied)"
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    return None


def unwritable_dir(path: Path, create: bool) -> str | None:
    """Why files cannot be created in folder ``path``, or None. With ``create`` the folder is made
    (as the service does); without, a missing folder is judged by its nearest existing parent."""
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            parent = next((p for p in path.parents if p.exists()), Path("/"))
            if not parent.is_dir():
                return f"cannot be created ({parent} is not a folder)"
            if os.access(parent, os.W_OK | os.X_OK):
                return None
            ro = os.statvfs(parent).f_flag & os.ST_RDONLY
            return f"cannot be created in {parent} ({'read-only file system' if ro else 'not writable'})"
        if not path.is_dir():
            return "is not a folder"
        with tempfile.TemporaryFile(dir=path):
            pass
    except FileExistsError:
        return "is not a folder"
    except PermissionError:
        return "not writable by this user (permission denied)"
    except OSError as exc:
        return f"not writable ({exc.strerror or exc})"
    return None


def _file(key: str, path: str | Path | None, problems: list[str]) -> None:
    if path:
        why = unreadable(Path(path))
        if why:
            problems.append(f"{key}: {path}: {why}")


def secret_problems(cfg: Config) -> list[str]:
    """Secret files that are named, used, and cannot serve: unreadable, not text or empty (a file
    is not read where a value that wins over it is set: ``http.api_token``;
    ``TRAYCHECK_MQTT_PASSWORD``). Then the secrets the service keeps in its data dir."""
    problems: list[str] = []
    files = {"http.api_token_file": None if cfg.http.api_token else cfg.http.api_token_file,
             "mqtt.password_file": cfg.mqtt.password_file if cfg.mqtt else None}
    for key, path in files.items():
        if path and not os.environ.get(SECRET_ENV.get(key, "")):
            why = secret_problem(Path(path))
            if why:
                problems.append(f"{key}: {path}: {why}")
    if cfg.mqtt:
        for key in ("ca_file", "cert_file", "key_file"):
            _file(f"mqtt.{key}", getattr(cfg.mqtt, key), problems)
    return problems + data_secret_problems(cfg)


def data_secret_problems(cfg: Config) -> list[str]:
    """The secrets the service reads from (or generates into) its data dir and would stop on:
    the POS API token (where no configured token wins over it) and the dashboard session key.
    Absent ones are fine (generated at start); empty, unreadable or malformed ones are not."""
    data = Path(cfg.data_dir)
    token_used = not (cfg.http.api_token or cfg.http.api_token_file or os.environ.get("TRAYCHECK_API_TOKEN"))
    found = [api_token_problem(data) if token_used else None, session_key_problem(data)]
    return [f"data_dir: {p}" for p in found if p]


def model_problems(cfg: Config, data_dir_ok: bool = True) -> list[str]:
    """The model the service would start with: an installed one (its pointer and file), else
    ``detector.model`` (a file, a family path or a bundled name). The default model folder is in
    the data dir: a broken data dir is reported once, as itself."""
    name = None
    if data_dir_ok or cfg.detector.model_dir is not None:
        try:
            _, name = active_model(cfg)
        except TrayCheckError as exc:
            return [f"detector.model_dir: {exc}"]
    if name:
        return []
    ref = cfg.detector.model
    try:
        path = resolve_model(ref, cfg.detector.variant)
    except TrayCheckError as exc:
        return [f"detector.model: {exc}"]
    why = unreadable(path)
    return [f"detector.model: {path}: {why}"] if why else []


def data_dir_problems(cfg: Config, create: bool) -> list[str]:
    """The data directory takes new files, and its database (when there is one) can be written."""
    data = Path(cfg.data_dir)
    why = unwritable_dir(data, create)
    if why:
        return [f"data_dir: {data}: {why}"]
    db = data / "traycheck.db"
    if db.exists():
        try:
            with open(db, "r+b"):
                pass
        except OSError as exc:
            return [f"data_dir: {db}: not writable ({exc.strerror or exc})"]
    return []


def menu_problems(cfg: Config) -> list[str]:
    """The menu file, when the config names one (``default`` is built in)."""
    problems: list[str] = []
    if cfg.menu != "default":
        _file("menu", cfg.menu, problems)
    return problems


def startup_problems(cfg: Config) -> list[str]:
    """What stops ``run`` before anything opens: every file the service reads at start (data dir,
    secrets in the config and in the data dir, model, menu). ``config check`` and ``doctor``
    report the same lines. (A missing camera file is not among them: the camera keeps trying
    and shows up as failed.)"""
    data = data_dir_problems(cfg, create=True)
    return data + secret_problems(cfg) + model_problems(cfg, data_dir_ok=not data) + menu_problems(cfg)


def file_problems(cfg: Config) -> list[str]:
    """Everything ``config check`` reports about the machine, one line per problem with its key
    path: the start-up problems plus the menu and the camera files (URLs and devices are not
    files; ``doctor`` tries those)."""
    data = data_dir_problems(cfg, create=False)
    problems = data + secret_problems(cfg) + model_problems(cfg, data_dir_ok=not data) + menu_problems(cfg)
    for i, cam in enumerate(cfg.cameras):
        if cam.source.startswith(LIVE_PREFIXES):
            continue
        src = Path(cam.source)
        if src.is_dir():
            video = next((src / n for n in ("video.mp4", "video.avi", "video.mkv") if (src / n).is_file()), None)
            if video is None:
                problems.append(f"cameras.{i}.source: {src}: no video.mp4 in this folder (not a recorded shift)")
                continue
            src = video
        _file(f"cameras.{i}.source", src, problems)
    return problems
