"""Model families for tests: copies of the bundled model, optionally with renamed classes.

The weights stay the bundled ones; only the metadata JSON beside them changes, so a
"renamed" family detects the same items under other names: a model with classes other
than the demo ten, without training one.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from detectors.classes import CLASSES
from detectors.model_info import MODELS_DIR
from orders.menu import DEFAULT_MENU

BUNDLED = "traycheck-v8n"
RENAMED = {"burger": "smashburger", "cheeseburger": "cheese_smash", "chicken_sandwich": "crispy_chicken",
           "wrap": "falafel_wrap", "fries": "wedges", "nuggets": "tenders", "salad": "grain_bowl",
           "drink": "soda", "dessert": "shake", "sauce": "dip"}

# the demo SKUs (the fixtures' POS sends these) on the renamed classes, and nothing else
RENAMED_MENU = "include_default: false\nskus:\n" + "".join(
    f"  {sku}: [{', '.join(RENAMED[c] for c in items)}]\n"
    for sku, items in DEFAULT_MENU.items())


def make_family(folder: Path, name: str, classes: list[str] | None = None, int8: bool = True,
                count_accuracy: float | None = 0.95) -> Path:
    """``folder/name.{onnx,int8.onnx,json}``: the bundled weights, metadata with ``classes`` and, unless
    None, a count accuracy on its own validation photos (what ``model install``'s guard reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MODELS_DIR / f"{BUNDLED}.onnx", folder / f"{name}.onnx")
    if int8:
        shutil.copyfile(MODELS_DIR / f"{BUNDLED}.int8.onnx", folder / f"{name}.int8.onnx")
    meta = json.loads((MODELS_DIR / f"{BUNDLED}.json").read_text())
    renamed = dict(zip(CLASSES, classes or CLASSES))  # the same weights: the same look-alikes, by their new names
    meta.update(name=name, classes=list(classes or CLASSES),
                lookalikes=[[renamed[a], renamed[b]] for a, b in meta["lookalikes"]],
                files={"fp32": f"{name}.onnx", "int8": f"{name}.int8.onnx"})
    if count_accuracy is not None:
        meta["metrics"]["counting"] = {"val_photos": 40, "count_accuracy_at_operating_conf": count_accuracy}
    (folder / f"{name}.json").write_text(json.dumps(meta, indent=2))
    return folder / f"{name}.onnx"


def renamed_classes() -> list[str]:
    return [RENAMED[c] for c in CLASSES]
