"""What a replay reads: a shift folder (or a scenario rendered into one), its menu checked
against the model, and its POS script."""
from __future__ import annotations

from pathlib import Path

import yaml

from detectors.detections import Detector, ModelDetector
from detectors.model_info import model_label
from detectors.synth.scenario import load_scenario
from detectors.synth.shift import ShiftRenderer, render_shift
from edge.core import progress_bar
from edge.errors import InvalidInput, TrayCheckError
from edge.sources.shift_files import PosEvent, read_pos
from orders.menu import Menu, load_menu


def shift_menu(folder: Path) -> Menu:
    sc = folder / "scenario.yaml"
    if sc.is_file():
        try:
            ref = (yaml.safe_load(sc.read_text()) or {}).get("menu", "default")
        except yaml.YAMLError:
            ref = "default"
        return load_menu(ref, folder)
    return Menu()


def prepare(source: Path, tmp: Path) -> Path:
    """A shift folder for ``source``: itself, or a scenario file rendered into ``tmp``."""
    source = Path(source)
    if source.is_dir():
        return source
    if source.suffix in (".yaml", ".yml"):
        loaded = load_scenario(source)
        with progress_bar(f"Rendering {loaded.scenario.name}", ShiftRenderer(loaded).n_frames) as advance:
            return render_shift(loaded, tmp / loaded.scenario.name, advance)
    if not source.exists():
        raise InvalidInput(f"{source}: no such file or folder")
    raise InvalidInput(f"{source}: expected a recorded shift folder or a scenario .yaml")


def checked_menu(folder: Path, detector: Detector, menu: Menu | None = None) -> Menu:
    """``menu`` (from --menu) or the shift's own, checked against the model's classes."""
    own = menu is None
    menu = shift_menu(folder) if menu is None else menu
    try:
        menu.check_classes(detector.classes, model_label(detector))
    except TrayCheckError as exc:
        raise InvalidInput(f"{exc}{' (--menu FILE replays with another menu)' if own else ''}") from None
    return menu


def shift_pos(folder: Path, detector: ModelDetector, menu: Menu | None) -> tuple[list[PosEvent], Menu]:
    """The shift's POS events and its menu (checked against the model); an unknown SKU is bad
    input, found before anything runs."""
    events = read_pos(folder / "pos.jsonl")
    menu = checked_menu(folder, detector, menu)
    for ev in events:
        for sku, _ in ev.order.lines():
            menu.classes_of(sku)
    return events, menu
