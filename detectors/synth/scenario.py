"""The scenario file (contract section 1): model, defaults and validation.

A scenario is the script of one shift at one check station. Validation happens
up front and every error names the file, the key path and its line, so that a
person writing test shifts can fix it without reading code.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detectors.classes import CLASSES
from detectors.synth.yaml_lines import compose, line_of
from edge.core import UserError
from orders.menu import Menu, load_menu

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
    ``_check_semantics``."""

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


class LoadedScenario:
    """A validated scenario plus what resolving it needs (its menu, its source)."""

    def __init__(self, scenario: Scenario, menu: Menu, path: Path | None, text: str):
        self.scenario = scenario
        self.menu = menu
        self.path = path
        self.text = text

    def expected(self, tray: Tray) -> Counter[str]:
        return self.menu.expected((line.sku, line.qty) for line in tray.order.items)

    def placed(self, tray: Tray) -> Counter[str]:
        """What is really on the tray at rest (the order's items when omitted)."""
        if tray.placed is None:
            return self.expected(tray)
        return Counter({k: v for k, v in tray.placed.items() if v > 0})


def _fmt_loc(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_scenario(text: str, source: str = "<scenario>", base_dir: Path | None = None) -> LoadedScenario:
    """Validate scenario YAML text; raise UserError naming key path and line."""
    try:
        data = yaml.safe_load(text)
        root = compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"{source}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise UserError(f"{source}: a scenario is a YAML mapping with at least 'name' and 'seed'")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        # pydantic appends the Literal branch name for unions: keep only data keys.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith(("literal[", "float"))))
        line = line_of(root, loc)
        msg = err["msg"].removeprefix("Value error, ")
        more = f" (and {len(exc.errors()) - 1} more errors)" if len(exc.errors()) > 1 else ""
        raise UserError(f"{source}: line {line}: {_fmt_loc(loc)}: {msg}{more}") from None
    menu = load_menu(scenario.menu, base_dir, classes=CLASSES, model="the renderer")  # it draws the demo ten
    _check_semantics(scenario, menu, root, source)
    return LoadedScenario(scenario, menu, None, text)


def _check_semantics(s: Scenario, menu: Menu, root: yaml.Node | None, source: str) -> None:
    """Rules that span keys: known SKUs, trays in order without overlap, fix in dwell."""

    def fail(loc: tuple[str | int, ...], msg: str) -> None:
        raise UserError(f"{source}: line {line_of(root, loc)}: {_fmt_loc(loc)}: {msg}")

    prev_gone = None
    for i, tray in enumerate(s.trays):
        for j, line in enumerate(tray.order.items):
            if line.sku not in menu:
                fail(("trays", i, "order", "items", j, "sku"), f"unknown SKU {line.sku!r} (not on the menu)")
        if prev_gone is not None and tray.at < prev_gone:
            fail(("trays", i, "at"), f"tray arrives at {tray.at}s while the previous one is still "
                 f"there until {prev_gone:.1f}s (trays never overlap at one station)")
        if tray.fix is not None and tray.fix.at >= tray.dwell:
            fail(("trays", i, "fix", "at"), f"fix at {tray.fix.at}s after rest is not within the dwell ({tray.dwell}s)")
        lines = ((line.sku, line.qty) for line in tray.order.items)
        placed = tray.placed if tray.placed is not None else menu.expected(lines)
        if sum(placed.values()) > MAX_ITEMS_PER_TRAY:
            fail(("trays", i, "order", "items"), f"the order puts {sum(placed.values())} items on one tray; "
                 f"at most {MAX_ITEMS_PER_TRAY} (give 'placed' explicitly or split the order)")
        prev_gone = tray.gone_t
    _check_events(s, fail)


AMOUNTS = {  # kind -> (low, high) of a valid amount
    "cover": (0.05, 1.0), "dark": (0.0, 0.9), "blur": (0.05, 1.0), "move": (1.0, 2000.0), "freeze": (0.0, 0.0)}


def _check_events(s: Scenario, fail: Callable[[tuple[str | int, ...], str], None]) -> None:
    """Camera events: a valid amount for their kind, in order of ``at``, never overlapping."""
    prev_end = None
    for i, ev in enumerate(s.camera_events):
        lo, hi = AMOUNTS[ev.kind]
        if ev.amount is not None and ev.kind == "freeze":
            fail(("camera_events", i, "amount"), "a freeze has no amount (the frame is repeated as it was)")
        if ev.amount is not None and not lo <= ev.amount <= hi:
            fail(("camera_events", i, "amount"), f"{ev.amount} is out of range for {ev.kind} ({lo}..{hi})")
        if prev_end is not None and ev.at < prev_end:
            fail(("camera_events", i, "at"), f"event starts at {ev.at}s while the previous one lasts until "
                 f"{prev_end:.1f}s (camera events are in order and never overlap)")
        prev_end = ev.end


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read and validate a scenario file; UserError with a clear message on any problem."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise UserError(f"scenario file {p}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"scenario file {p}: cannot read ({exc})") from None
    loaded = parse_scenario(text, source=str(p), base_dir=p.parent)
    loaded.path = p
    return loaded
