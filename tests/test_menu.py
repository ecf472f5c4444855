"""The menu: SKUs to visual classes, and menu files."""
from __future__ import annotations

from edge.errors import InvalidInput
import pytest

from detectors.classes import CLASSES
from orders.menu import Menu, load_menu

pytestmark = pytest.mark.quick


def test_default_menu_expected_counts():
    m = Menu()
    got = m.expected([("NUGGET_MEAL", 2), ("SAUCE_BBQ", 1), ("KETCHUP", 4)])
    assert dict(got) == {"nuggets": 2, "fries": 2, "drink": 2, "sauce": 3}
    assert m.classes_of("KETCHUP") == ()
    with pytest.raises(InvalidInput, match="unknown SKU 'PIZZA'"):
        m.expected([("PIZZA", 1)])


def test_menu_file_adds_skus(tmp_path):
    p = tmp_path / "menu.yaml"
    p.write_text("skus:\n  DOUBLE_DEAL: [burger, burger, fries]\n  NAPKINS: []\n")
    m = load_menu("menu.yaml", tmp_path)
    assert dict(m.expected([("DOUBLE_DEAL", 1)])) == {"burger": 2, "fries": 1}
    assert m.classes_of("NAPKINS") == () and m.classes_of("BURGER") == ("burger",)


@pytest.mark.parametrize("text,match", [
    ("skus:\n  X: [pizza]\n", r"skus\.X\[0\]: visual class 'pizza' is not one of model m's classes \(burger, "),
    ("skus: [1, 2]\n", "expected a mapping"),
    ("skus:\n  X: burger\n", "skus.X: expected a list"),
    ("skus: {X: [burger\n", "not valid YAML"),
])
def test_bad_menu_files(tmp_path, text, match):
    p = tmp_path / "menu.yaml"
    p.write_text(text)
    with pytest.raises(InvalidInput, match=match):
        load_menu(p, classes=CLASSES, model="model m")
    with pytest.raises(InvalidInput, match="cannot read"):
        load_menu(tmp_path / "missing.yaml")
