"""The scenario file (contract section 1): reading, validation across keys, clear errors.

A scenario is the script of one shift at one check station. Validation happens
up front and every error names the file, the key path and its line, so that a
person writing test shifts can fix it without reading code.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import yaml
from pydantic import ValidationError

from detectors.classes import CLASSES
from detectors.synth.scenario_schema import MAX_ITEMS_PER_TRAY, Scenario, Tray
from detectors.synth.yaml_lines import compose, line_of
from edge.errors import InvalidInput
from orders.menu import Menu, load_menu


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
    """Validate scenario YAML text; raise InvalidInput naming key path and line."""
    try:
        data = yaml.safe_load(text)
        root = compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise InvalidInput(f"{source}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: a scenario is a YAML mapping with at least 'name' and 'seed'")
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
        raise InvalidInput(f"{source}: line {line}: {_fmt_loc(loc)}: {msg}{more}") from None
    menu = load_menu(scenario.menu, base_dir, classes=CLASSES, model="the renderer")  # it draws the demo ten
    _check_semantics(scenario, menu, root, source)
    return LoadedScenario(scenario, menu, None, text)


def _check_semantics(s: Scenario, menu: Menu, root: yaml.Node | None, source: str) -> None:
    """Rules that span keys: known SKUs, trays in order without overlap, fix in dwell."""

    def fail(loc: tuple[str | int, ...], msg: str) -> None:
        raise InvalidInput(f"{source}: line {line_of(root, loc)}: {_fmt_loc(loc)}: {msg}")

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
    """Read and validate a scenario file; InvalidInput with a clear message on any problem."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise InvalidInput(f"scenario file {p}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"scenario file {p}: cannot read ({exc})") from None
    loaded = parse_scenario(text, source=str(p), base_dir=p.parent)
    loaded.path = p
    return loaded
