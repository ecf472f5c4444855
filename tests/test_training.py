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
    beside = best.with_suffix(".onnx")  # ultralytics writes its export beside the weights: not over a user's file
    beside.write_bytes(b"a model the user keeps here")
    proc = cli("export", best, "--name", "smoke", "--out-dir", tmp_path / "models", "--calib", "8",
               "--val-images", "10", "--settings", tmp_path / "run/settings.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert beside.read_bytes() == b"a model the user keeps here"
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


@pytest.mark.slow
def test_finetune_on_a_sites_own_classes_and_export(cli, tmp_path):
    """Photos in a labelling tool's export -> data import -> train --data (a new class head) ->
    export --data: the family carries the dataset's classes, its hash and per-class AP of both files."""
    pytest.importorskip("ultralytics")
    from tests.labelled_sets import shots, write_cvat_yolo

    site_classes = ["soup", "roll", "juice", "cake", "apple", "tea", "plate", "bowl", "cup", "jam"]
    src = write_cvat_yolo(tmp_path / "cvat", shots(trays=8, per_tray=2, seed=11), classes=site_classes)
    proc = cli("data", "import", src, "-o", tmp_path / "ds", "--drop", "jam", "--map", "cup=juice",
               "--val-fraction", "0.3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((tmp_path / "ds/manifest.json").read_text())
    classes = manifest["classes"]
    assert classes == ["soup", "roll", "juice", "cake", "apple", "tea", "plate", "bowl"]
    proc = cli("train", "--data", tmp_path / "ds", "-o", tmp_path / "run", "--synthetic", "4")
    assert proc.returncode == 2 and "has none of them" in proc.stderr  # renders cannot be named in these classes
    proc = cli("train", "--data", tmp_path / "ds", "-o", tmp_path / "run", "--epochs", "1", "--imgsz", "160",
               "--batch", "8", "--copy-paste", "4")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "new class head: 10 -> 8 classes" in " ".join(proc.stderr.split())
    settings = json.loads((tmp_path / "run/settings.json").read_text())
    assert settings["dataset_hash"] == manifest["hash"] and settings["extra_images"] == 4
    proc = cli("export", tmp_path / "run/best.pt", "--name", "site", "--out-dir", tmp_path / "models",
               "--data", tmp_path / "ds", "--calib", "8")
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "models/site.json").read_text())
    assert meta["classes"] == classes and meta["imgsz"] == [128, 160]  # 4:3 photos at 160 wide
    assert meta["operating_conf"] == 0.25  # the pipeline counts items at the threshold the figures use
    assert meta["metrics"]["dataset_hash"] == manifest["hash"]
    for variant in ("fp32", "int8"):
        m = meta["metrics"][variant]
        assert 0.0 <= m["mAP50"] <= 1.0 and set(m["per_class"]) <= set(classes)
        det = OnnxDetector(tmp_path / "models" / meta["files"][variant])
        assert det.classes == tuple(classes) and det.input_hw == (128, 160) and det.operating_conf == 0.25
    assert "dataset" in meta["calibration"]["source"]
