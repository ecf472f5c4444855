"""The Frigate-style ``detector:`` section: a union discriminated on ``type``, backends from the
one registry in ``detectors.loader``, configs without ``type`` loading as before."""
from __future__ import annotations

from edge.errors import InvalidInput
import sys
import typing
from pathlib import Path

import pytest

from detectors.loader import BACKENDS, load_detector
from detectors.onnx_backend import OnnxDetector
from edge.app.config import load_config
from edge.app.detector_config import DetectorConfig
from edge.app.model_store import load_active

pytestmark = pytest.mark.quick

BASE = "site: s\ndata_dir: {data}\ncameras: [{{name: a, source: /dev/video0}}]\n"


def _load(tmp_path: Path, detector: str):
    p = tmp_path / "c.yaml"
    p.write_text(BASE.format(data=tmp_path / "data") + detector + "\n")
    return load_config(p)


def _error(tmp_path: Path, detector: str) -> str:
    with pytest.raises(InvalidInput) as err:
        _load(tmp_path, detector)
    msg = str(err.value)
    assert msg.startswith(f"config {tmp_path / 'c.yaml'}: ") and "\n" not in msg, msg
    return msg


def test_the_config_union_and_the_backend_registry_name_the_same_types():
    union = typing.get_args(typing.get_args(DetectorConfig)[0])
    assert sorted(m.model_fields["type"].annotation.__args__[0] for m in union) == sorted(BACKENDS)


def test_a_config_without_type_loads_as_before(tmp_path):
    assert _load(tmp_path, "").detector.type == "onnx"
    d = _load(tmp_path, "detector: {model: default, int8: true, threads: 3, providers: [CPUExecutionProvider]}").detector
    assert (d.type, d.model, d.variant, d.threads, d.providers) == ("onnx", "default", "int8", 3, ["CPUExecutionProvider"])
    assert _load(tmp_path, "detector: {model: /models/best.pt}").detector.type == "ultralytics"  # the suffix's default


def test_each_type_takes_only_its_own_keys(tmp_path):
    assert _load(tmp_path, "detector: {type: onnx, int8: true}").detector.variant == "int8"
    assert "detector.int8: Extra inputs are not permitted (got True)" in _error(
        tmp_path, "detector: {type: ultralytics, int8: true}")
    assert "detector.thread: Extra inputs are not permitted" in _error(tmp_path, "detector: {type: onnx, thread: 2}")
    assert "detector.threads: Input should be greater than or equal to 1 (got 0)" in _error(
        tmp_path, "detector: {threads: 0}")
    assert "detector.type: unknown type (one of: onnx, ultralytics) (got 'tflite')" in _error(
        tmp_path, "detector: {type: tflite}")


def test_ultralytics_without_the_train_extra_is_a_clear_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ultralytics", None)  # what Python does for a module that is not there
    for section in ("detector: {type: ultralytics}", "detector: {model: weights.pt}"):
        msg = _error(tmp_path, section)
        assert "detector.type: the ultralytics detector needs ultralytics, which is not installed" in msg, msg
        assert "[train]" in msg
    with pytest.raises(InvalidInput, match="needs ultralytics, which is not installed"):
        load_detector(None, backend="ultralytics")


def test_the_type_picks_the_backend_that_runs_the_model(tmp_path):
    det, name = load_active(_load(tmp_path, "detector: {type: onnx, int8: true}"))
    assert isinstance(det, OnnxDetector) and det.path.name.endswith(".int8.onnx") and name is None
    ref, _ = load_active(_load(tmp_path, "detector: {type: ultralytics}"))  # the bundled model's .pt
    assert type(ref).__name__ == "UltralyticsDetector" and ref.classes == det.classes and ref.path.suffix == ".pt"
    with pytest.raises(InvalidInput, match="the onnx backend needs a .onnx model"):
        load_detector(next(Path(det.path).parent.glob("*.pt")), backend="onnx")


def test_int8_is_the_default_where_the_metadata_shows_int8_as_accurate(tmp_path):
    """``int8: auto`` (the default): INT8 for the bundled model and for a site family whose INT8
    mAP50 is within 0.01 of fp32; fp32 where INT8 is worse, absent or not scored; true/false force."""
    import json

    from model_family import make_family

    d = _load(tmp_path, "").detector
    assert (d.int8, d.variant) == ("auto", "int8")
    assert "within 0.01" in d.variant_why(None)
    fam = tmp_path / "models"
    make_family(fam, "close")
    make_family(fam, "worse")
    meta = json.loads((fam / "worse.json").read_text())
    meta["metrics"]["int8"]["mAP50"] = meta["metrics"]["fp32"]["mAP50"] - 0.02
    (fam / "worse.json").write_text(json.dumps(meta))
    make_family(fam, "unscored")
    meta = json.loads((fam / "unscored.json").read_text())
    del meta["metrics"]
    (fam / "unscored.json").write_text(json.dumps(meta))
    make_family(fam, "noint8", int8=False)
    assert d.variant_for(str(fam / "close")) == "int8"
    for name, why in (("worse", "more than 0.01 below"), ("unscored", "no fp32 and INT8 mAP50"),
                      ("noint8", "no INT8 file")):
        assert d.variant_for(str(fam / name)) == "fp32", name
        assert why in d.variant_why(str(fam / name))
    assert _load(tmp_path, "detector: {int8: false}").detector.variant == "fp32"
    assert "detector.int8: " in (msg := _error(tmp_path, "detector: {int8: maybe}")) and "true, false or auto" in msg
    det, _ = load_active(_load(tmp_path, f"detector: {{model: {fam / 'close'}}}"))
    assert det.path.name == "close.int8.onnx"  # what the service loads
