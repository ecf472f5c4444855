"""Orders, mistakes and truth for a shift made of labelled photos (``synth stills``).

Each photo is a tray; its order is what its labels show, expressed in menu
SKUs, except for a seeded share of trays whose order is altered by one item so
that the shift has mismatches to catch. The truth is a plain multiset
difference of the order's items and the labels: it must not borrow the
pipeline's matching code, or a bug there would grade itself.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from edge.errors import InvalidInput
from orders.menu import load_menu

MISTAKE_KINDS = ("drop", "add", "replace")  # drop: the tray shows an extra item; add: one is missing


@dataclass(frozen=True)
class SkuChoice:
    """Which SKU orders one unit of each visual class, and the menu file the shift carries."""

    class_sku: dict[str, str]
    menu_text: str

    def lines(self, items: Counter[str], class_order: Sequence[str]) -> list[dict]:
        """POS lines (``{"sku", "qty"}``) for a multiset of visual items, in class-id order."""
        rank = {c: i for i, c in enumerate(class_order)}
        return [{"sku": self.class_sku[c], "qty": n}
                for c, n in sorted(items.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])) if n > 0]


def sku_name(cls: str) -> str:
    """A class name as a POS-style SKU: upper case, anything but letters and digits as '_'."""
    return re.sub(r"[^A-Z0-9]+", "_", cls.upper()).strip("_") or "ITEM"


def derived_menu(names: Sequence[str], source: str) -> SkuChoice:
    """One SKU per dataset class (``FRIES: [fries]``) and nothing else (``include_default: false``)."""
    class_sku: dict[str, str] = {}
    used: set[str] = set()
    for i, cls in enumerate(names):
        sku = sku_name(cls)
        if sku in used:  # two names that differ only in punctuation or case
            sku = f"{sku}_{i}"
        used.add(sku)
        class_sku[cls] = sku
    doc = {"include_default": False, "skus": {sku: [cls] for cls, sku in class_sku.items()}}
    text = (f"# Made by traycheck synth stills from {source}: one SKU per class of the dataset.\n"
            + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, allow_unicode=True))
    return SkuChoice(class_sku, text)


def menu_choice(path: Path, needed: dict[str, str]) -> SkuChoice:
    """SKUs from a menu file: for each class, the first SKU that puts exactly that one item on a tray.

    ``needed`` maps each class shown on some photo to that photo's name (for the message when the
    menu has no such SKU: an order for that tray could not be written).
    """
    menu = load_menu(Path(path))
    class_sku: dict[str, str] = {}
    for sku, items in menu.skus.items():
        if len(items) == 1 and items[0] not in class_sku:
            class_sku[items[0]] = sku
    for cls, photo in needed.items():
        if cls not in class_sku:
            raise InvalidInput(f"menu file {path}: no SKU orders exactly one {cls!r} (photo {photo} shows one); "
                            f"add a line such as '{sku_name(cls)}: [{cls}]' under skus")
    try:
        text = Path(path).read_text()
    except OSError as exc:  # load_menu read it a moment ago
        raise InvalidInput(f"menu file {path}: cannot read ({exc.strerror})") from None
    return SkuChoice(class_sku, text)


def mistake_trays(n: int, share: float, seed: int) -> set[int]:
    """Exactly round(share * n) tray indices, drawn from the seed."""
    k = int(round(share * n))
    rng = np.random.default_rng([seed, 0])
    return {int(i) for i in rng.choice(n, size=k, replace=False)} if k else set()


def alter(placed: Counter[str], pool: Sequence[str], rng: np.random.Generator) -> tuple[Counter[str], str]:
    """An order one item away from the tray: drop an item it shows, add one it lacks, or replace one.

    ``pool``: the classes an order can name (each has a SKU), in class-id order; it holds every
    class on the tray. An order always keeps at least one item.
    """
    shown = [c for c in pool if placed[c] > 0]  # every class on a tray has a SKU (checked before)
    kinds = [k for k in MISTAKE_KINDS
             if (k != "drop" or sum(placed.values()) >= 2) and (k != "replace" or len(pool) >= 2)]
    kind = kinds[int(rng.integers(0, len(kinds)))]
    order = Counter(placed)
    if kind == "drop":
        order[shown[int(rng.integers(0, len(shown)))]] -= 1
    elif kind == "add":
        order[pool[int(rng.integers(0, len(pool)))]] += 1
    else:
        old = shown[int(rng.integers(0, len(shown)))]
        others = [c for c in pool if c != old]
        order[old] -= 1
        order[others[int(rng.integers(0, len(others)))]] += 1
    return +order, kind


def truth_line(order_id: str, rest_t: float, leave_t: float, expected: Counter[str], placed: Counter[str],
               **extra: object) -> dict:
    """One truth.jsonl line (contract section 3); photos are never fixed, so final = initial."""
    missing = dict(sorted((expected - placed).items()))
    surplus = dict(sorted((placed - expected).items()))
    initial = "mismatch" if missing or surplus else "ok"
    return {"order_id": order_id, "rest_t": round(rest_t, 3), "leave_t": round(leave_t, 3),
            "expected": dict(sorted(expected.items())), "placed": dict(sorted(placed.items())),
            "initial": initial, "missing": missing, "extra": surplus, "final": initial, **extra}
