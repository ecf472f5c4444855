"""The training path end to end on a tiny set, so it cannot rot: render, train 1 epoch,
export ONNX fp32 + INT8, score with ultralytics val, load with the ONNX backend."""
from __future__ import annotations

import json

import numpy as np
import pytest

from detectors.classes import CLASSES
from detectors.onnx_backend import OnnxDetector


@pytest.mark.slow
def test_train_and_export_smoke(cli, tmp_path):
    pytest.importorskip("ultralytics")
    proc = cli("train", "-o", tmp_path / "run", "--images", "16", "--val-images", "4", "--epochs", "1",
               "--imgsz", "160", "--batch", "8")
    assert proc.returncode == 0, proc.stderr[-3000:]
    best = tmp_path / "run/train/weights/best.pt"
    assert best.is_file()
    proc = cli("export", best, "--name", "smoke", "--out-dir", tmp_path / "models", "--calib", "8",
               "--val-images", "10", "--settings", tmp_path / "run/settings.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "models/smoke.json").read_text())
    assert meta["classes"] == list(CLASSES) and meta["imgsz"] == [256, 320]
    assert meta["train"]["epochs"] == 1 and meta["train"]["images"] == 16
    assert set(meta["metrics"]) >= {"fp32", "int8", "val_seed"}
    for variant in ("fp32", "int8"):
        det = OnnxDetector(tmp_path / "models" / meta["files"][variant])
        assert det.classes == CLASSES
        dets = det.detect(np.zeros((480, 640, 3), np.uint8))
        assert dets.xyxy.shape[1] == 4


@pytest.mark.slow
def test_rewritten_dfl_matches_torch(cli, tmp_path):
    """The exported graph's DFL decode is rewritten (softmax over the last axis): its raw
    output must still equal the torch model's on the same input."""
    torch = pytest.importorskip("torch")
    import onnx
    from ultralytics import YOLO

    from detectors.model_info import resolve_model
    from detectors.onnx_rewrite import fast_dfl

    fp32 = resolve_model(None, "fp32")
    copy = tmp_path / "m.onnx"
    copy.write_bytes(fp32.read_bytes())
    assert fast_dfl(copy) is False  # the bundled file is rewritten already
    softmax = [n for n in onnx.load(str(fp32)).graph.node if n.op_type == "Softmax"]
    assert softmax and all(a.i == -1 for n in softmax for a in n.attribute if a.name == "axis")
    det = OnnxDetector(fp32)
    rng = np.random.default_rng(3)
    blob = rng.random((1, 3, *det.input_hw), dtype=np.float32)
    onnx_out = det.session.run(None, {det.input_name: blob})[0]
    model = YOLO(str(resolve_model(None, "pt"))).model.float().eval()
    with torch.no_grad():
        torch_out = model(torch.from_numpy(blob))[0].numpy()
    assert onnx_out.shape == torch_out.shape
    np.testing.assert_allclose(onnx_out, torch_out, rtol=1e-3, atol=2e-3)
