"""docs/architecture.md names the layers import-linter enforces (pyproject's "layers" contract), in the
same order and with the same separators (``|``: siblings that may not import each other, ``:``: that may):
the page a newcomer reads first must not drift from the rule the build checks."""
from __future__ import annotations

import re
import tomllib

import pytest

from conftest import ROOT

pytestmark = pytest.mark.quick

DOC = ROOT / "docs" / "architecture.md"


def contract_layers() -> list[str]:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layered = [c for c in contracts if c["type"] == "layers"]
    assert len(layered) == 1, f"expected one layers contract in pyproject.toml, found {len(layered)}"
    return [" ".join(layer.split()) for layer in layered[0]["layers"]]


def doc_layers() -> list[str]:
    """The chain after "layers only point down:" (Static checks): `a` → `b : c` → ..., up to its "(" note."""
    text = DOC.read_text()
    start = text.find("layers only point down:")
    assert start >= 0, f"{DOC.name}: no 'layers only point down:' list"
    chain = text[start:].split("(", 1)[0]
    return [" ".join(name.split()) for name in re.findall(r"`([^`]+)`", chain)]


def doc_edge_line() -> list[str]:
    """The module tree's summary beside edge/: ``layers point down: cli -> bench : replay -> ...``."""
    m = re.search(r"^edge/\s+layers point down: (.+)$", DOC.read_text(), re.MULTILINE)
    assert m, f"{DOC.name}: no 'edge/  layers point down:' line in the module tree"
    return [" ".join(part.split()) for part in m.group(1).split("->")]


def test_the_doc_lists_the_contracts_layers_in_order():
    assert doc_layers() == contract_layers()


def test_the_module_trees_edge_line_is_the_contracts_edge_layers():
    """The tree's one-line summary: edge's layers above the bottom (core and errors), without ``edge.``."""
    above_bottom = [layer for layer in contract_layers()[:-1] if layer.startswith("edge.")]
    assert doc_edge_line() == [layer.replace("edge.", "") for layer in above_bottom]


def test_the_parsers_see_the_separators():
    """Guards the parsing itself: a layer with siblings stays one entry."""
    layers = contract_layers()
    assert "edge.bench : edge.replay" in layers and "edge.store | edge.pipeline" in layers
    assert len(doc_layers()) == len(layers) > 5
