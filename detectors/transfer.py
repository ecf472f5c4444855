"""Start a site model from weights learnt elsewhere (``traycheck train --data D --from CHECKPOINT``).

A checkpoint is either an ultralytics one (a pickled model with its own YAML) or
a tensors-only state dict (``{"state_dict": {name: tensor}, ...}`` or a bare
``{name: tensor}``, such as COCO weights a site downloads once). The
architecture is the one the checkpoint implies: its own YAML, else the known
architecture whose tensors match most of it by name and shape. Every tensor
whose name and shape match moves into a model with a class head for the
dataset's classes (ultralytics' ``intersect_dicts`` rule), the count is
reported, and the result is written as an ordinary ultralytics checkpoint, so
training starts from it like from any ``.pt``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from detectors.train import DEFAULT_MODEL_YAML
from edge.core import console
from edge.errors import InvalidInput

CANDIDATE_YAMLS: tuple[str, ...] = ("yolov5n.yaml", "yolov8n.yaml", "yolo11n.yaml", str(DEFAULT_MODEL_YAML))
MIN_SHARE = 0.5  # below this share of the checkpoint's tensors matched, the architecture is not known here


@dataclass
class Transfer:
    """What moved from a checkpoint into the new model."""

    source: Path
    architecture: str  # the YAML the new model is built from
    moved: int  # tensors transferred (name and shape match)
    source_tensors: int  # tensors in the checkpoint
    not_moved: list[str]  # checkpoint tensors left behind (the old class head, mostly)

    def line(self) -> str:
        left = sorted({".".join(k.split(".")[:2]) for k in self.not_moved})
        return (f"--from {self.source.name}: built from {Path(self.architecture).name}; transferred "
                f"{self.moved} of {self.source_tensors} tensors by name and shape"
                + (f" (not moved: {', '.join(left)})" if left else ""))


def _tensors_only(raw: Any) -> dict | None:
    """The state dict of a tensors-only checkpoint, or None when ``raw`` is not one."""
    import torch

    sd = raw.get("state_dict", raw) if isinstance(raw, dict) else None
    if isinstance(sd, dict) and sd and all(isinstance(v, torch.Tensor) for v in sd.values()):
        return {str(k): v for k, v in sd.items()}
    return None


def read_checkpoint(path: Path) -> tuple[dict, str | dict | None]:
    """(state dict, architecture: the checkpoint's own model YAML or None) of a ``.pt`` file."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"--from {path}: not found")
    try:
        raw = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception:  # a pickled ultralytics model: not loadable as tensors only
        raw = None
    sd = _tensors_only(raw)
    if sd is not None:
        return sd, None
    try:
        from ultralytics.nn.tasks import load_checkpoint

        model, _ = load_checkpoint(str(path))
    except Exception as exc:  # torch and ultralytics raise many types for a file that is not a checkpoint
        raise InvalidInput(f"--from {path}: neither a tensors-only state dict nor an ultralytics checkpoint "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
    return model.float().state_dict(), getattr(model, "yaml", None)


def _matches(sd: dict, model_sd: dict) -> list[str]:
    return [k for k, v in sd.items() if k in model_sd and tuple(model_sd[k].shape) == tuple(v.shape)]


def build_from(path: Path, classes: list[str]) -> tuple[Any, Transfer]:
    """A DetectionModel for ``classes`` in the checkpoint's architecture, with every tensor that fits."""
    from ultralytics.nn.tasks import DetectionModel

    sd, arch = read_checkpoint(path)
    nc = len(classes)
    if arch is not None:
        cfg = dict(arch) if isinstance(arch, dict) else arch
        model = DetectionModel(cfg, nc=nc, verbose=False)
        name = str(cfg.get("yaml_file", "the checkpoint's own YAML")) if isinstance(cfg, dict) else str(cfg)
    else:
        best = None
        for yml in CANDIDATE_YAMLS:
            cand = DetectionModel(yml, nc=nc, verbose=False)
            n = len(_matches(sd, cand.state_dict()))
            if best is None or n > best[0]:
                best = (n, yml, cand)
        assert best is not None
        n, name, model = best
        if n < MIN_SHARE * len(sd):
            raise InvalidInput(f"--from {path}: its {len(sd)} tensors match no known architecture (best: "
                            f"{Path(name).name}, {n} by name and shape); pass an ultralytics checkpoint instead")
    model_sd = model.state_dict()
    moved = _matches(sd, model_sd)
    model.load_state_dict({k: sd[k].to(model_sd[k].dtype) for k in moved}, strict=False)
    model.names = dict(enumerate(classes))
    report = Transfer(Path(path), name, len(moved), len(sd), [k for k in sd if k not in set(moved)])
    return model, report


def write_start_checkpoint(path: Path, classes: list[str], out: Path) -> Transfer:
    """``out``: an ultralytics checkpoint of the transferred model, for ``YOLO(out).train(...)``."""
    import torch

    model, report = build_from(path, classes)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "epoch": -1, "train_args": {}, "date": datetime.now(timezone.utc).isoformat(),
                "transferred_from": str(path), "transferred": report.moved}, str(out))
    return report


def start_checkpoint(start: Path, classes: list[str], run: Path) -> tuple[Path, dict]:
    """RUN/start.pt: the starting weights in their own architecture with a class head for ``classes``."""
    sd, arch = read_checkpoint(start)
    names = None
    if arch is not None:  # an ultralytics checkpoint: keep it as is when its classes are already the dataset's
        from ultralytics.nn.tasks import load_checkpoint

        names = load_checkpoint(str(start))[0].names
        if [names[i] for i in sorted(names)] == classes:
            return start, {"moved": len(sd), "of": len(sd), "architecture": "the checkpoint's own"}
    if names is not None:
        console.print(f"new class head: {len(names)} -> {len(classes)} classes ({', '.join(classes)})")
    report = write_start_checkpoint(start, classes, run / "start.pt")
    console.print(report.line())
    return run / "start.pt", {"moved": report.moved, "of": report.source_tensors,
                              "architecture": Path(report.architecture).name}
