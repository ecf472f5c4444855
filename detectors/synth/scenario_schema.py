"""The scenario file's schema (contract section 1): its keys, their defaults and per-key checks.

Pydantic models only: what one key may hold. Rules that span keys (known SKUs, trays in
order, a fix within its dwell, camera events apart) and the error messages that name the
file and line belong to the loader, ``detectors.synth.scenario``.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.classes import CLASSES

MAX_ITEMS_PER_TRAY = 8
SLIDE_S = 1.0  # a tray slides in (and out) over exactly this long
NAME_RE = re.compile(r"^[a-z0-9-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Video(_Strict):
    width: int = Field(640, ge=160, le=1920)
    height: int = Field(480, ge=120, le=1080)
    fps: int = Field(15, ge=1, le=60)


class Camera(_Strict):
    noise: float = Field(0.0, ge=0.0, le=0.2)
    blur: int = Field(0, ge=0, le=6)
    brightness: float = Field(1.0, ge=0.3, le=1.7)
    flicker: float = Field(0.0, ge=0.0, le=0.3)
    jpeg_quality: int = 0

    @field_validator("jpeg_quality")
    @classmethod
    def _quality(cls, v: int) -> int:
        if v != 0 and not 20 <= v <= 100:
            raise ValueError("must be 0 (off) or between 20 and 100")
        return v


def _check_placed(v: dict[str, int] | None) -> dict[str, int] | None:
    if v is None:
        return v
    for cls, n in v.items():
        if cls not in CLASSES:
            raise ValueError(f"unknown visual class {cls!r} (known: {', '.join(CLASSES)})")
        if n < 0:
            raise ValueError(f"count of {cls!r} must be >= 0")
    if sum(v.values()) > MAX_ITEMS_PER_TRAY:
        raise ValueError(f"{sum(v.values())} items on one tray; at most {MAX_ITEMS_PER_TRAY}")
    return v


class Line(_Strict):
    sku: str = Field(min_length=1)
    qty: int = Field(1, ge=1, le=20)


class Order(_Strict):
    id: str = Field(min_length=1, max_length=64)
    items: list[Line] = Field(min_length=1)
    sent: float | Literal["never"] = -2.0  # extension: default when omitted

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) else v


class Fix(_Strict):
    at: float = Field(ge=0.0)
    placed: dict[str, int]

    _placed = field_validator("placed")(_check_placed)


class Tray(_Strict):
    at: float = Field(ge=0.0)
    dwell: float = Field(ge=2.0, le=600.0)
    order: Order
    placed: dict[str, int] | None = None
    ticket: Literal["qr", "none", "damaged"] = "qr"
    hands: int = Field(0, ge=0, le=2)
    clutter: int = Field(0, ge=0, le=3)
    fix: Fix | None = None

    _placed = field_validator("placed")(_check_placed)

    @property
    def rest_t(self) -> float:
        return self.at + SLIDE_S

    @property
    def leave_t(self) -> float:
        """When the tray starts sliding out (end of rest)."""
        return self.at + SLIDE_S + self.dwell

    @property
    def gone_t(self) -> float:
        return self.leave_t + SLIDE_S


FAULT_CHECKS = {"cover": "covered", "dark": "dark", "blur": "blurred", "move": "moved", "freeze": "frozen"}


class CameraEvent(_Strict):
    """A camera fault (extension): from ``at`` for ``duration`` seconds. ``amount`` (kind-specific,
    omitted = the kind's default; see detectors/synth/camera.py) is validated per kind in
    ``detectors.synth.scenario`` (``_check_events``)."""

    at: float = Field(ge=0.0)
    kind: Literal["cover", "dark", "blur", "move", "freeze"]
    duration: float = Field(gt=0.0, le=3600.0)
    amount: float | None = None

    @property
    def end(self) -> float:
        return self.at + self.duration


class Scenario(_Strict):
    name: str
    seed: int
    video: Video = Video()
    camera: Camera = Camera()
    menu: str = "default"
    trays: list[Tray] = Field(default_factory=list)
    camera_events: list[CameraEvent] = Field(default_factory=list)  # extension: camera faults

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("must match [a-z0-9-]+")
        return v

    @property
    def duration(self) -> float:
        """Seconds of video: until the last tray is gone (and the last camera event is over), plus a
        short tail."""
        end = (self.trays[-1].gone_t + 1.0) if self.trays else 5.0
        if self.camera_events:
            end = max(end, max(e.end for e in self.camera_events) + 1.0)
        return end
