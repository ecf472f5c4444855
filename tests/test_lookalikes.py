"""Look-alike pairs are the model's: ``export`` derives them from its confusion matrix on the val
split, the metadata JSON carries them, and they decide whether a swap is one kitchen mistake when a
ticketless tray is matched to an order. A model without class metadata is refused, naming the file."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from detectors.classes import CLASSES
from detectors.evaluation.lookalikes import MIN_CONFUSIONS, lookalike_pairs, val_confusion
from detectors.loader import load_detector
from detectors.model_info import MODELS_DIR
from detectors.onnx_backend import OnnxDetector
from edge.errors import InvalidInput
from edge.pipeline.association import OrderAssociation
from edge.pipeline.checked_tray import CheckedTray
from edge.pipeline.model_switch import ModelSwitch
from edge.pipeline.params import PipelineParams
from orders.menu import load_menu
from orders.models import Order
from orders.queue import OrderQueue
from tests.conftest import FIXTURES
from tests.model_family import make_family
from tests.test_cli import one_line_error

DEMO_PAIRS = (("burger", "cheeseburger"), ("chicken_sandwich", "wrap"))


# -- the pairs from a confusion matrix ---------------------------------------------------------------
def _matrix(n: int, boxes: int, confused: dict[tuple[int, int], int]) -> np.ndarray:
    """(n + 1) x (n + 1), rows truth: ``boxes`` per class, of which ``confused[(a, b)]`` were taken for b."""
    m = np.zeros((n + 1, n + 1), np.int64)
    for a in range(n):
        m[a, a] = boxes
    for (a, b), k in confused.items():
        m[a, b] += k
        m[a, a] -= k
    return m


def test_pairs_are_the_classes_confused_both_ways_above_the_threshold():
    classes = ["a", "b", "c", "d", "e"]
    m = _matrix(5, 100, {(0, 1): 2, (1, 0): 2,  # 4 of 200 boxes (2 %): a pair, though neither way alone reaches 3
                         (2, 3): 9,  # 9 of 200 one way only: a pair, the most confused
                         (3, 4): 1, (4, 3): 1,  # 1 %, but only 2 boxes: one stray box is no pattern
                         (0, 4): 1})  # 0.5 %
    assert lookalike_pairs(m, classes) == [["c", "d"], ["a", "b"]]
    assert lookalike_pairs(m, classes, min_share=0.03) == [["c", "d"]]
    assert lookalike_pairs(m, classes, min_confusions=2) == [["c", "d"], ["a", "b"], ["d", "e"]]  # 2 of 200
    m[4, 5] = 50  # e's missed boxes are boxes of e too: 2 of 250 is below 1 %
    assert lookalike_pairs(m, classes, min_confusions=2) == [["c", "d"], ["a", "b"]]
    assert lookalike_pairs(m[:5, :5], classes) == [["c", "d"], ["a", "b"]]  # no background row: the same
    assert lookalike_pairs(_matrix(5, 100, {}), classes) == []  # a model that never mixes classes up
    assert lookalike_pairs(np.zeros((6, 6)), classes) == []  # no boxes at all: nothing to divide by
    small = _matrix(2, 10, {(0, 1): MIN_CONFUSIONS})  # 3 of 20: a small split still shows a real pair
    assert lookalike_pairs(small, ["x", "y"]) == [["x", "y"]]


def test_the_val_confusion_of_a_model_file_before_its_metadata_exists(tmp_path):
    """What export runs on the INT8 file before it writes the JSON: the classes are given, the
    matrix is the metadata's layout, and the bundled model keeps rendered classes apart."""
    from detectors.synth.dataset import write_dataset

    data = write_dataset(tmp_path / "val", 6, 777777, 1.0)
    bare = tmp_path / "bare.int8.onnx"  # no JSON beside it
    shutil.copyfile(MODELS_DIR / "traycheck-v8n.int8.onnx", bare)
    cm = val_confusion(bare, data, list(CLASSES), 0.25)
    m = np.array(cm["matrix"])
    assert cm["labels"] == [*CLASSES, "background"] and m.shape == (11, 11) and cm["rows"] == "truth"
    assert cm["conf"] == [0.25] * 10
    assert np.trace(m) >= 20 and np.trace(m) >= 0.9 * m[:10].sum()  # found most of the boxes as themselves
    assert all(isinstance(p, list) and len(p) == 2 for p in lookalike_pairs(m, CLASSES))


@pytest.mark.slow
def test_export_writes_the_pairs_of_its_val_confusion(tmp_path, cli):
    """``traycheck export`` of the bundled weights (no training): the metadata has the INT8 file's
    confusion matrix and the pairs derived from it, and the exported model loads them."""
    pytest.importorskip("ultralytics")
    weights = tmp_path / "run" / "weights.pt"  # a copy: ultralytics writes its ONNX file beside the weights
    weights.parent.mkdir()
    shutil.copyfile(MODELS_DIR / "traycheck-v8n.pt", weights)
    proc = cli("export", weights, "--name", "again", "--out-dir", tmp_path, "--calib", "8", "--val-images", "10",
               timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "again.json").read_text())
    matrix = np.array(meta["metrics"]["confusion"]["matrix"])
    assert matrix.shape == (11, 11) and matrix.sum() > 0
    assert meta["lookalikes"] == lookalike_pairs(matrix, CLASSES)
    assert OnnxDetector(tmp_path / "again.int8.onnx").lookalikes == tuple(map(tuple, meta["lookalikes"]))


# -- the pairs decide the kitchen mistakes -----------------------------------------------------------
def test_the_bundled_model_carries_todays_pairs():
    assert load_detector(None, "int8", threads=1).lookalikes == DEMO_PAIRS
    assert json.loads((MODELS_DIR / "traycheck-v8n.json").read_text())["lookalikes"] == [list(p) for p in DEMO_PAIRS]


def _nopairs(folder: Path) -> Path:
    model = make_family(folder, "nopairs")
    meta_file = model.with_suffix(".json")
    meta_file.write_text(json.dumps(json.loads(meta_file.read_text()) | {"lookalikes": []}))
    return model


def test_the_models_pairs_decide_which_order_a_ticketless_tray_gets(tmp_path):
    """A ticketless tray with burger, fries, drink; pending: a cheeseburger meal (older) and a burger
    with fries. With burger/cheeseburger a pair, both orders are one mistake away and the older wins;
    after a switch to the same weights without pairs the swap is two mistakes and the other order wins."""
    menu = load_menu(None)
    models = ModelSwitch("expo-1", load_detector(None, "fp32", threads=1), menu)

    def ticketless_tray_gets() -> str | None:
        queue = OrderQueue()
        queue.add(Order(id="A", items=[{"sku": "CHEESEBURGER_MEAL", "qty": 1}]), 0.0)
        queue.add(Order(id="B", items=[{"sku": "BURGER", "qty": 1}, {"sku": "FRIES", "qty": 1}]), 0.5)
        params = PipelineParams()
        tray = CheckedTray(1, rest_t=1.0, counts={"burger": 1, "fries": 1, "drink": 1}, ticket_tries=params.ticket_tries)
        assert OrderAssociation("expo-1", queue, params).associate(tray, 2.0, models.menu, models.lookalikes)
        assert tray.order is not None
        return tray.order.order.id

    assert models.lookalikes == DEMO_PAIRS and ticketless_tray_gets() == "A"
    models.request(load_detector(_nopairs(tmp_path / "m"), threads=1), menu)
    assert not models.apply(station_empty=False)  # same classes: no reset, the switch goes at once
    assert models.lookalikes == () and ticketless_tray_gets() == "B"


# -- a model without class metadata ------------------------------------------------------------------
def test_a_model_without_class_metadata_is_refused_naming_the_file(tmp_path, cli):
    model = tmp_path / "site.onnx"
    shutil.copyfile(MODELS_DIR / "traycheck-v8n.onnx", model)
    with pytest.raises(InvalidInput, match=f"^model file {model}: no metadata site.json beside it naming its classes$"):
        OnnxDetector(model)  # (the ONNX file's own names and the demo list are no substitute)
    meta = json.loads((MODELS_DIR / "traycheck-v8n.json").read_text())
    del meta["classes"]
    (tmp_path / "site.json").write_text(json.dumps(meta))
    with pytest.raises(InvalidInput, match=f"^model metadata {tmp_path / 'site.json'}: classes: expected a list"):
        OnnxDetector(model)
    one_line_error(cli("detect", FIXTURES / "lunch-rush", "--model", model), f"model metadata {tmp_path / 'site.json'}",
                   "classes: expected a list of distinct class names")
    (tmp_path / "site.json").write_text(json.dumps(meta | {"classes": list(CLASSES), "lookalikes": [["burger", "soup"]]}))
    with pytest.raises(InvalidInput, match=r"site\.json: lookalikes: expected a list of pairs of two of its classes"):
        OnnxDetector(model)
    (tmp_path / "site.json").unlink()
    one_line_error(cli("detect", FIXTURES / "lunch-rush", "--model", model), f"model file {model}: no metadata site.json")
