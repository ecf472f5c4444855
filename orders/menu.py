"""The menu: which visual items each POS SKU puts on a tray.

A SKU maps to a multiset of visual classes (``BURGER_MEAL`` -> burger, fries,
drink) or to nothing (``KETCHUP``: not visually checked). The default menu is
the one of the scenario contract, section 2 (it names the bundled demo model's
classes); a menu file adds SKUs to it or, with ``include_default: false``,
replaces it. The class names are checked against the model that will look at
the trays (``Menu.check_classes``): the model, not this module, says which
classes exist.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from edge.errors import InvalidInput, UnknownSku

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
    """SKU -> visual classes. ``source`` names it in errors; ``default_skus`` are the SKUs that
    came from the default menu (a model without the demo classes cannot check those)."""

    skus: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_MENU))
    source: str = "default menu"
    default_skus: frozenset[str] = frozenset(DEFAULT_MENU)

    def __contains__(self, sku: object) -> bool:
        return sku in self.skus

    def classes_of(self, sku: str) -> tuple[str, ...]:
        """Visual classes one unit of ``sku`` puts on the tray (may be empty)."""
        try:
            return self.skus[sku]
        except KeyError:
            raise UnknownSku(f"unknown SKU {sku!r} (not on the menu)") from None

    def expected(self, lines: Iterable[tuple[str, int]]) -> Counter[str]:
        """The visual items an order with these (sku, qty) lines should show."""
        out: Counter[str] = Counter()
        for sku, qty in lines:
            for cls in self.classes_of(sku):
                out[cls] += qty
        return out

    def check_classes(self, classes: Sequence[str], model: str = "the model") -> None:
        """Refuse a menu naming a class the model does not detect: such an item could never be
        seen, so every order with it would be a false alert. ``model`` names the list's owner in
        the message ("model traycheck-v8n"). The menu file's own SKUs are checked first; a
        default SKU failing gets the hint to leave the defaults out."""
        known = set(classes)
        own = [s for s in self.skus if s not in self.default_skus]
        for sku in own + [s for s in self.skus if s in self.default_skus]:
            for i, cls in enumerate(self.skus[sku]):
                if cls in known:
                    continue
                msg = (f"{self.source}: skus.{sku}[{i}]: visual class {cls!r} is not one of "
                       f"{model}'s classes ({', '.join(classes)})")
                if sku in self.default_skus:
                    msg += ("; the default menu's SKUs name the demo model's classes: give a menu file "
                            "with 'include_default: false' and your own SKUs")
                raise InvalidInput(msg)


def load_menu(ref: str | Path | None, base_dir: Path | None = None, classes: Sequence[str] | None = None,
              model: str = "the model") -> Menu:
    """Load ``default`` (or None) or a YAML menu file that adds/overrides SKUs; with ``classes``
    (the model's class list) also check every class name against it.

    File format::

        include_default: true  # false: only the SKUs below (a site with its own model)
        skus:
          VEGGIE_WRAP: [wrap]
          BIG_MEAL: [burger, burger, fries, drink]
          NAPKINS: []          # not visually checked
    """
    menu = Menu() if ref is None or ref == "default" else _read_menu_file(Path(ref), base_dir)
    if classes is not None:
        menu.check_classes(classes, model)
    return menu


def _read_menu_file(path: Path, base_dir: Path | None) -> Menu:
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    src = f"menu file {path}"
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"{src}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{src}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("skus"), dict):
        raise InvalidInput(f"{src}: expected a mapping with key 'skus: {{SKU: [classes]}}'")
    unknown = sorted(set(data) - {"skus", "include_default"}, key=str)
    if unknown:
        raise InvalidInput(f"{src}: {unknown[0]}: unknown key (known: include_default, skus)")
    include = data.get("include_default", True)
    if not isinstance(include, bool):
        raise InvalidInput(f"{src}: include_default: expected true or false (got {include!r})")
    skus = dict(DEFAULT_MENU) if include else {}
    for sku, items in data["skus"].items():
        if items is None:
            items = []
        if not isinstance(sku, str) or not isinstance(items, list):
            raise InvalidInput(f"{src}: skus.{sku}: expected a list of visual classes")
        for i, cls in enumerate(items):
            if not isinstance(cls, str) or not cls:
                raise InvalidInput(f"{src}: skus.{sku}[{i}]: expected a visual class name (got {cls!r})")
        skus[sku] = tuple(items)
    if not skus:
        raise InvalidInput(f"{src}: skus: no SKUs (include_default is false and the file lists none)")
    defaults = frozenset(s for s in DEFAULT_MENU if include and s not in data["skus"])
    return Menu(skus, src, defaults)
