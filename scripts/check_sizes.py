"""House-rule sizes: modules over 250 lines and functions over 40 lines (def line to last
line, docstring included, decorators not) in edge/, orders/ and detectors/. Prints one line
per offender and exits 1 when there is any, so a refactor is checked, not eyeballed.

    python scripts/check_sizes.py [PATH ...]   (default: edge orders detectors)
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_MODULE = 250
MAX_FUNCTION = 40
DEFAULT_ROOTS = ("edge", "orders", "detectors")


def offenders(path: Path) -> list[str]:
    """The size problems of one Python file, one line each."""
    text = path.read_text()
    found = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE:
        found.append(f"{path}: module {lines} lines")
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION:
                found.append(f"{path}:{node.lineno}: function {node.name} {length} lines")
    return found


def main(argv: list[str]) -> int:
    """Walk the given roots; exit 1 when anything is over its limit."""
    roots = [Path(a) for a in argv] or [Path(r) for r in DEFAULT_ROOTS]
    files = [f for r in roots for f in ([r] if r.is_file() else sorted(r.rglob("*.py")))]
    found = [line for f in files for line in offenders(f)]
    print("\n".join(found) if found else f"ok: {len(files)} files within the limits")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
