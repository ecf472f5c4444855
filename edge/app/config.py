"""The appliance configuration: one YAML file validated up front by pydantic.

Every error names the key path and the bad value; nothing starts until the
whole file is valid. Secrets can come from files (``*_file`` keys) or the
environment (``TRAYCHECK_API_TOKEN``, ``TRAYCHECK_MQTT_PASSWORD``).
"""
from __future__ import annotations

import ipaddress
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from detectors.loader import BACKENDS
from detectors.zone import DEFAULT_ZONE
from edge.app.camera_params import PipelineOverrides, TrayOverrides, camera_params
from edge.app.detector_config import DetectorConfig, OnnxDetectorConfig
from edge.errors import InvalidInput
from edge.pipeline.params import PipelineParams
from edge.store.secret_files import read_secret

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class _Strict(BaseModel):
    # no inf or nan, not even as a string: ``days: .inf`` would pass ``gt=0`` and crash a purge later
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _check_name(v: str) -> str:
    if not NAME.match(v):
        raise ValueError("must be lower-case letters, digits, - or _ (at most 32)")
    return v


def _secret(value: str | None, file: str | None, env: str, key: str) -> str | None:
    """``env`` if set, else the file's text (a InvalidInput naming ``key`` if it is unreadable, not
    text or empty: never an empty secret), else ``value``."""
    if env and os.environ.get(env):
        return os.environ[env]
    if file:
        return read_secret(Path(file), key)
    return value


def zone_area(points: list[tuple[float, float]]) -> float:
    """The polygon's area as a share of the frame (shoelace formula): a zone that encloses none
    would silently check no tray at all."""
    n = len(points)
    return abs(sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]
                   for i in range(n))) / 2


MIN_ZONE_AREA = 1e-4  # a hundredth of a percent of the frame: less is a line or a point, no tray fits


class CameraConfig(_Strict):
    name: str
    source: str  # rtsp://..., http://..., /dev/videoN, or a video file / shift folder
    zone: list[tuple[float, float]] = Field(default_factory=lambda: [(x, y) for x, y in DEFAULT_ZONE])
    # file sources only: 1 = real time, null = as fast as possible (0 or less would never deliver a frame)
    speed: Annotated[float, Field(gt=0)] | None = 1.0
    pipeline: PipelineOverrides = PipelineOverrides()  # type: ignore[valid-type]  # (a model built from PipelineParams)
    tray: TrayOverrides = TrayOverrides()  # type: ignore[valid-type]  # (a model built from TrayParams)

    _name = field_validator("name")(_check_name)

    @field_validator("zone")
    @classmethod
    def _zone(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if len(v) < 3:
            raise ValueError("a zone needs at least 3 [x, y] points")
        if any(not (0 <= x <= 1 and 0 <= y <= 1) for x, y in v):
            raise ValueError("zone points are fractions of the frame, between 0 and 1")
        if zone_area(v) < MIN_ZONE_AREA:
            raise ValueError("the zone encloses no area of the frame (its points repeat or lie on one line)")
        return v

    def params(self) -> PipelineParams:
        """This camera's thresholds: the defaults with its ``pipeline`` and ``tray`` overrides."""
        return camera_params(self.pipeline, self.tray)


class MqttConfig(_Strict):
    host: str
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    password_file: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    orders_topic: str | None = None  # subscribe here for POS orders (JSON like the API body)
    client_id: str | None = Field(None, min_length=1, max_length=128)  # default: traycheck-SITE-HOST-<data dir>

    @model_validator(mode="after")
    def _files(self) -> "MqttConfig":
        for key in ("ca_file", "cert_file", "key_file"):
            f = getattr(self, key)
            if f and not Path(f).is_file():
                raise ValueError(f"{key} {f!r}: not found")
        return self

    def resolved_password(self) -> str | None:
        return _secret(self.password, self.password_file, "TRAYCHECK_MQTT_PASSWORD", "mqtt.password_file")


class HttpConfig(_Strict):
    listen: str = "127.0.0.1:8080"
    api_token: str | None = None
    api_token_file: str | None = None
    trusted_proxies: list[str] = []  # reverse proxies whose X-Forwarded-For is believed (else ignored)
    metrics_allow: list[str] = ["127.0.0.1", "::1"]  # scrapers reading /metrics without the API token
    session_hours: float = Field(12, gt=0, le=24 * 30)  # a dashboard session ends this long after sign-in
    session_idle_minutes: float = Field(240, gt=0, le=24 * 60 * 30)  # ... or this long after its last use
    max_body_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)  # larger request bodies: 413
    max_connections: int = Field(512, ge=32, le=100_000)  # open HTTP connections (docs/security.md)

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR range (10.0.0.5, 10.0.0.0/24)") from None
        return v

    def resolved_token(self) -> str | None:
        """``api_token``, else the token file's (a InvalidInput naming the key if unreadable), else None:
        ``TRAYCHECK_API_TOKEN`` or a generated one (``edge.web.token``)."""
        return self.api_token or _secret(None, self.api_token_file, "", "http.api_token_file")

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT, e.g. 0.0.0.0:8080")
        return v


class RetentionConfig(_Strict):
    days: float = Field(30, gt=0)
    min_free_mb: float = Field(500, ge=0)
    every_minutes: float = Field(60, gt=0)


class OrdersConfig(_Strict):
    expire_minutes: float = Field(30, gt=0)  # a pending order no station served by then is closed as expired


class Config(_Strict):
    site: str = "site"
    data_dir: str = "/var/lib/traycheck"
    menu: str = "default"
    cameras: list[CameraConfig] = Field(min_length=1)
    detector: DetectorConfig = OnnxDetectorConfig()
    mqtt: MqttConfig | None = None
    http: HttpConfig = HttpConfig()
    retention: RetentionConfig = RetentionConfig()
    orders: OrdersConfig = OrdersConfig()
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    _site = field_validator("site")(_check_name)

    @model_validator(mode="after")
    def _unique_cameras(self) -> "Config":
        names = [c.name for c in self.cameras]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"camera names must be unique: {sorted(dup)}")
        return self


def non_finite(value: Any, path: tuple[str, ...] = ()) -> tuple[tuple[str, ...], float] | None:
    """(key path, value) of the first inf or nan anywhere in ``value`` (a validated config's dump),
    or None: a safety net for the sections whose models are built elsewhere (camera overrides,
    detector) and do not refuse them themselves."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for k, v in items:
        found = non_finite(v, (*path, str(k)))
        if found is not None:
            return found
    return None


def _text(p: Path) -> str:
    """The config file's text; a InvalidInput naming the file and where its bytes stop being UTF-8
    (a file saved in another encoding) instead of a traceback."""
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"config {p}: not found") from None
    except IsADirectoryError:
        raise InvalidInput(f"config {p}: is a folder, not a file") from None
    except OSError as exc:
        raise InvalidInput(f"config {p}: cannot read ({exc.strerror or exc})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InvalidInput(f"config {p}: line {line}: not UTF-8 text (byte {exc.start}: {raw[exc.start]:#04x}); "
                        "save it as UTF-8") from None


def load_config(path: str | Path) -> Config:
    p = Path(path)
    text = _text(p)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InvalidInput(f"config {p}: line {mark.line + 1 if mark else '?'}: not valid YAML") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"config {p}: expected a YAML mapping")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        parts = [str(x) for x in e["loc"]]
        if parts[:1] == ["detector"] and len(parts) > 1 and parts[1] in BACKENDS:
            del parts[1]  # the union's tag: the user wrote detector.int8, not detector.onnx.int8
        msg, value = e["msg"].removeprefix("Value error, "), e.get("input")
        if e["type"] == "union_tag_invalid":
            parts.append("type")
            msg, value = f"unknown type (one of: {', '.join(BACKENDS)})", e.get("ctx", {}).get("tag")
        loc = ".".join(parts) or "(top level)"
        shown = "" if isinstance(value, (dict, list)) or value is None else f" (got {value!r})"
        raise InvalidInput(f"config {p}: {loc}: {msg}{shown}") from None
    bad = non_finite(cfg.model_dump())
    if bad is not None:
        raise InvalidInput(f"config {p}: {'.'.join(bad[0])}: Input should be a finite number (got {bad[1]!r})")
    return cfg

