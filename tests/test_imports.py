"""Every module of edge/, orders/ and detectors/ imports, and so does every import statement in them,
also those inside functions (the quick tier's floor: an import error anywhere, in a module or a code
path no quick test runs, fails it). The heavy dependencies (ultralytics, torch, onnx) are imported
inside the functions that need them; scripts/test.sh installs the train extra, so they must resolve too."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import sys
import traceback

import pytest

from conftest import ROOT

pytestmark = pytest.mark.quick

PACKAGES = ("edge", "detectors", "orders")
TRAIN_EXTRA = {"ultralytics", "torch", "onnx"}  # imported inside functions only: this test reaches them


def _walk_error(name: str) -> None:
    raise ImportError(f"{name}: the package does not import (its modules cannot be listed)")


def all_modules() -> list[str]:
    """Every module under the three packages, from the files (pkgutil), subpackages included."""
    names = []
    for pkg in PACKAGES:
        names.append(pkg)
        mod = importlib.import_module(pkg)
        names += [m.name for m in pkgutil.walk_packages(mod.__path__, pkg + ".", onerror=_walk_error)]
    return names


def module_file(name: str):
    path = ROOT.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def import_statements(name: str) -> list[tuple[int, str, str | None]]:
    """(line, module, name or None) of every import in the module's source, at any depth."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(module_file(name).read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), name) if node.level else node.module
            found += [(node.lineno, base, a.name) for a in node.names if a.name != "*"]
    return found


def _resolve(module: str, attr: str | None) -> None:
    mod = importlib.import_module(module)
    if attr is not None and not hasattr(mod, attr):
        importlib.import_module(f"{module}.{attr}")  # a submodule, or ImportError


def _import(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``edge.__main__`` runs the command at import: run as ``python -m edge --help`` it must exit 0."""
    if name.rsplit(".", 1)[-1] != "__main__":
        importlib.import_module(name)
        return
    monkeypatch.setattr(sys, "argv", ["traycheck", "--help"])
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(name)
    assert stop.value.code in (0, None), f"{name} --help exited {stop.value.code}"


def _failure(what: str, exc: BaseException) -> str:
    return f"{what}: {type(exc).__name__}: {exc}\n{''.join(traceback.format_tb(exc.__traceback__)[-2:])}"


def test_the_walk_finds_every_module_on_disk():
    """The walk must see what is on disk (a package without __init__.py would hide its modules)."""
    names = set(all_modules())
    on_disk = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    assert on_disk <= names, sorted(on_disk - names)
    assert "edge.__main__" in names and "detectors.synth.scene" in names


def test_every_module_imports(monkeypatch, capsys):
    failed = []
    for name in all_modules():
        try:
            _import(name, monkeypatch)
        except BaseException as exc:  # noqa: BLE001 (a SystemExit or an AssertionError is a failure too)
            failed.append(_failure(name, exc))
    assert not failed, f"{len(failed)} module(s) do not import:\n" + "\n".join(failed)
    assert "Usage" in capsys.readouterr().out  # edge.__main__ really ran the command's --help


def test_every_import_inside_a_function_resolves(monkeypatch):
    """Imports inside functions run only when the function does: a renamed name breaks them silently."""
    monkeypatch.setenv("YOLO_OFFLINE", "1")  # as detectors.train.require_ultralytics sets it
    failed, roots = [], set()
    for name in all_modules():
        for line, module, attr in import_statements(name):
            roots.add(module.split(".")[0])
            try:
                _resolve(module, attr)
            except Exception as exc:  # noqa: BLE001
                failed.append(_failure(f"{module_file(name).relative_to(ROOT)}:{line} {module} {attr or ''}", exc))
    assert not failed, f"{len(failed)} import(s) do not resolve:\n" + "\n".join(failed)
    assert TRAIN_EXTRA <= roots  # the heavy ones were among them (else this test checks less than it says)
