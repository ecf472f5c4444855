"""The menu: which visual items each POS SKU puts on a tray.

A SKU maps to a multiset of visual classes (``BURGER_MEAL`` -> burger, fries,
drink) or to nothing (``KETCHUP``: not visually checked). The default menu is
the one of the scenario contract, section 2; a menu file can add SKUs.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from detectors.classes import CLASSES
from edge.errors import UserError

DEFAULT_MENU: dict[str, tuple[str, ...]] = {
    "BURGER": ("burger",),
    "CHEESEBURGER": ("cheeseburger",),
    "CHICKEN_SANDWICH": ("chicken_sandwich",),
    "WRAP": ("wrap",),
    "FRIES": ("fries",),
    "NUGGETS": ("nuggets",),
    "SALAD": ("salad",),
    "DRINK": ("drink",),
    "SUNDAE": ("dessert",),
    "SAUCE_BBQ": ("sauce",),
    "SAUCE_MAYO": ("sauce",),
    "BURGER_MEAL": ("burger", "fries", "drink"),
    "CHEESEBURGER_MEAL": ("cheeseburger", "fries", "drink"),
    "CHICKEN_MEAL": ("chicken_sandwich", "fries", "drink"),
    "NUGGET_MEAL": ("nuggets", "fries", "drink", "sauce"),
    "KETCHUP": (),
}


@dataclass(frozen=True)
class Menu:
    """SKU -> visual classes, validated against the detector's class list."""

    skus: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_MENU))

    def __contains__(self, sku: object) -> bool:
        return sku in self.skus

    def classes_of(self, sku: str) -> tuple[str, ...]:
        """Visual classes one unit of ``sku`` puts on the tray (may be empty)."""
        try:
            return self.skus[sku]
        except KeyError:
            raise UserError(f"unknown SKU {sku!r} (not on the menu)") from None

    def expected(self, lines: Iterable[tuple[str, int]]) -> Counter[str]:
        """The visual items an order with these (sku, qty) lines should show."""
        out: Counter[str] = Counter()
        for sku, qty in lines:
            for cls in self.classes_of(sku):
                out[cls] += qty
        return out


def load_menu(ref: str | Path | None, base_dir: Path | None = None) -> Menu:
    """Load ``default`` (or None) or a YAML menu file that adds/overrides SKUs.

    File format::

        skus:
          VEGGIE_WRAP: [wrap]
          BIG_MEAL: [burger, burger, fries, drink]
          NAPKINS: []          # not visually checked
    """
    if ref is None or ref == "default":
        return Menu()
    path = Path(ref)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UserError(f"menu file {path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise UserError(f"menu file {path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("skus"), dict):
        raise UserError(f"menu file {path}: expected a mapping with key 'skus: {{SKU: [classes]}}'")
    skus = dict(DEFAULT_MENU)
    for sku, classes in data["skus"].items():
        if classes is None:
            classes = []
        if not isinstance(sku, str) or not isinstance(classes, list):
            raise UserError(f"menu file {path}: skus.{sku}: expected a list of visual classes")
        for cls in classes:
            if cls not in CLASSES:
                raise UserError(
                    f"menu file {path}: skus.{sku}: unknown visual class {cls!r} "
                    f"(known: {', '.join(CLASSES)})"
                )
        skus[sku] = tuple(classes)
    return Menu(skus)
