"""The house rules on size, checked rather than eyeballed: in edge/, orders/ and detectors/ no module over
250 lines and no function over 40 (def line to last line, docstring included, decorators not), and
CameraPipeline, the per-frame conductor, at most 120 lines (its parts live in their own modules)."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import check_sizes  # noqa: E402  (scripts/ is not a package: the size rule lives there, once)

pytestmark = pytest.mark.quick

PACKAGES = ("edge", "orders", "detectors")
MAX_MODULE_LINES = 250
MAX_FUNCTION_LINES = 40
MAX_CAMERA_PIPELINE_LINES = 120


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def span(node: ast.AST) -> int:
    """Lines from the def/class line to the last line (decorators are above ``lineno``: not counted)."""
    return (node.end_lineno or node.lineno) - node.lineno + 1


def where(path: Path, node: ast.AST | None = None) -> str:
    rel = path.relative_to(ROOT)
    return f"{rel}:{node.lineno}" if node is not None else str(rel)


def test_the_rules_see_the_code():
    files = sources()
    assert len(files) > 100 and ROOT / "edge" / "pipeline" / "camera.py" in files


def test_no_module_over_250_lines_and_no_function_over_40():
    """The same check as ``python scripts/check_sizes.py`` (one implementation of the rule), at the house limits."""
    assert (check_sizes.MAX_MODULE, check_sizes.MAX_FUNCTION) == (MAX_MODULE_LINES, MAX_FUNCTION_LINES)
    long = [line for p in sources() for line in check_sizes.offenders(p)]
    assert not long, f"{len(long)} module(s)/function(s) over the limits:\n" + "\n".join(long)


def test_camera_pipeline_stays_a_conductor():
    path = ROOT / "edge" / "pipeline" / "camera.py"
    classes = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ClassDef)]
    cls = next((n for n in classes if n.name == "CameraPipeline"), None)
    assert cls is not None, f"{where(path)}: no class CameraPipeline"
    assert span(cls) <= MAX_CAMERA_PIPELINE_LINES, f"{where(path, cls)}: CameraPipeline {span(cls)} lines"


def test_span_counts_the_def_line_to_the_last_line():
    """The counting rule itself: a 3-line function under a decorator is 3 lines, its docstring included."""
    fn = ast.parse("@decorator\ndef f():\n    '''Why.'''\n    return 1\n").body[0]
    assert span(fn) == 3
