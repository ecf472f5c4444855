"""Real-image weights and unlabelled photos for a site model (``train --from`` / ``--unlabelled``), and
per-class thresholds (``class_conf``): on rendered trays and tiny models built here, never on shared data."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.datasets.unlabelled import leave_out_val_trays
from detectors.detections import Detections
from detectors.evaluation.class_conf import choose_class_conf, counts_at
from detectors.model_info import class_conf_from_metadata
from tests.labelled_sets import STAMP, shots, write_cvat_yolo

CLASSES_8 = ["burger", "fries", "drink", "nuggets", "wrap", "salad", "sauce", "dessert"]


def _dataset(cli, tmp_path: Path, trays: int = 8, per_tray: int = 3) -> tuple[Path, dict, list]:
    items = [(f"{STAMP} ({1000 + 10 * (k // per_tray) + k % per_tray}).jpg", *rest)  # 10 shot numbers a tray
             for k, (_, *rest) in enumerate(shots(trays=trays, per_tray=per_tray, seed=11))]
    src = write_cvat_yolo(tmp_path / "cvat", items)
    proc = cli("data", "import", src, "-o", tmp_path / "ds", "--val-fraction", "0.3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp_path / "ds", json.loads((tmp_path / "ds/manifest.json").read_text()), items


def _unlabelled_shots(items: list, out: Path, manifest: dict) -> dict[str, str]:
    """One more shot of every labelled tray (after its last one, nudged), as an unlabelled photo;
    {its file name: the split of the tray it shows}."""
    out.mkdir(parents=True, exist_ok=True)
    split_of = {e["source"]: e["split"] for e in manifest["images"]}
    split_of.update({d["source"]: split_of[d["kept"]] for d in manifest["duplicates"]})
    truth = {}
    for k in range(0, len(items), 3):  # the last shot of each burst of three, shot number + 1
        name, img, _, _ = items[k + 2]
        number = int(name.split("(")[1].split(")")[0])
        moved = cv2.warpAffine(img, np.float32([[1, 0, 6], [0, 1, -4]]), (img.shape[1], img.shape[0]),
                               borderMode=cv2.BORDER_REPLICATE)
        new = f"{STAMP} ({number + 1}).jpg"
        cv2.imwrite(str(out / new), moved)
        truth[new] = split_of[name]
    return truth


def test_unlabelled_shots_of_val_trays_are_left_out(cli, tmp_path):
    """The grouping rule of ``data import`` puts each unlabelled shot with its tray: the val trays' shots
    are left out, the train trays' kept."""
    ds, manifest, items = _dataset(cli, tmp_path)
    truth = _unlabelled_shots(items, tmp_path / "unl", manifest)
    assert set(truth.values()) == {"train", "val"}
    split = leave_out_val_trays(sorted((tmp_path / "unl").glob("*.jpg")), ds)
    assert split.grouped
    assert sorted(p.name for p in split.left_out) == sorted(n for n, s in truth.items() if s == "val")
    assert sorted(p.name for p in split.kept) == sorted(n for n, s in truth.items() if s == "train")


def test_choose_class_conf_counts_each_class_right():
    """A class whose true items score 0.18 and one whose false alarms score 0.4 need different thresholds;
    the chooser finds both, and counts at them are all right."""
    rng = np.random.default_rng(0)
    dets, gt = [], []
    for i in range(20):
        boxes = [[10, 10, 50, 50], [100, 10, 150, 60], [200, 200, 260, 260]]
        conf = [0.18, 0.9, 0.4 if i % 2 else 0.05]  # class 0: a real item at 0.18; class 1 real at 0.9; class 1
        cls = [0, 1, 1]  # false alarm at 0.4 on half the photos
        dets.append(Detections(np.float32(boxes) + rng.uniform(0, 1), np.float32(conf), np.int64(cls)))
        gt.append([1, 1])
    gt = np.array(gt)
    thr = choose_class_conf(dets, gt)
    assert thr[0] < 0.18 and thr[1] >= 0.4
    assert (counts_at(dets, thr) == gt).all()
    assert (counts_at(dets, np.full(2, 0.25)) == gt).all(axis=1).mean() < 0.1  # one global threshold fails


def test_class_conf_metadata_is_checked():
    assert class_conf_from_metadata({}, ["a"], "m.json") is None
    got = class_conf_from_metadata({"class_conf": {"a": 0.4}, "operating_conf": 0.3}, ["a", "b"], "m.json")
    assert got.tolist() == pytest.approx([0.4, 0.3])
    with pytest.raises(Exception, match=r"class_conf\['a'\]"):
        class_conf_from_metadata({"class_conf": {"a": 2}}, ["a"], "m.json")


@pytest.mark.slow
def test_from_a_tensors_only_checkpoint_with_unlabelled_photos(cli, tmp_path):
    """train --from (a tiny tensors-only state dict in another architecture and class count) --unlabelled:
    the transfer is counted by name and shape, the val trays' shots are left out, a teacher pseudo-labels
    the rest for a student; export chooses class_conf, and model compare and the detector use it."""
    pytest.importorskip("ultralytics")
    import torch
    from ultralytics.nn.tasks import DetectionModel

    ds, manifest, items = _dataset(cli, tmp_path)
    truth = _unlabelled_shots(items, tmp_path / "unl", manifest)
    coco_like = DetectionModel("yolov5n.yaml", nc=5, verbose=False)  # another architecture, 5 classes
    sd = {k: v.half() for k, v in coco_like.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": sd, "names": [f"c{i}" for i in range(5)], "architecture": "YOLOv5n"},
               tmp_path / "base.pt")
    head = [k for k in sd if k.startswith("model.24.cv3.") and k.endswith((".2.weight", ".2.bias"))]
    proc = cli("train", "--data", ds, "-o", tmp_path / "run", "--from", tmp_path / "base.pt",
               "--unlabelled", tmp_path / "unl", "--epochs", "1", "--imgsz", "160", "--batch", "8",
               "--copy-paste", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = " ".join(proc.stderr.split())
    moved = len(sd) - len(head)  # everything but the class head's last convs (5 classes there, 10 here)
    assert f"built from yolov5n.yaml; transferred {moved} of {len(sd)} tensors" in out
    n_val = sum(1 for s in truth.values() if s == "val")
    assert f"{n_val} left out as shots of validation trays" in out
    for stage in ("stage 2/4 teacher", "stage 3/4 pseudo-labels", "stage 4/4 student"):
        assert stage in out
    settings = json.loads((tmp_path / "run/settings.json").read_text())
    assert settings["transfer"] == {"moved": moved, "of": len(sd), "architecture": "yolov5n.yaml"}
    assert settings["unlabelled_photos"]["left_out_val_trays"] == n_val
    pseudo = settings["pseudo_labels"]
    assert pseudo["photos"] + pseudo["empty_left_out"] == len(truth) - n_val
    listed = (tmp_path / "run/train.txt").read_text().split()
    assert sum("/pseudo/" in p for p in listed) == pseudo["photos"]
    assert (tmp_path / "run/teacher.pt").is_file() and (tmp_path / "run/best.pt").is_file()

    proc = cli("export", tmp_path / "run/best.pt", "--name", "site", "--out-dir", tmp_path / "m", "--data", ds,
               "--calib", "8")
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "m/site.json").read_text())
    classes = manifest["classes"]
    assert set(meta["class_conf"]) == set(classes)
    assert all(0.0 < v < 1.0 for v in meta["class_conf"].values())

    from detectors.onnx_backend import OnnxDetector

    det = OnnxDetector(tmp_path / "m/site.int8.onnx")
    assert det.class_conf is not None
    assert det.class_conf.tolist() == pytest.approx([meta["class_conf"][c] for c in classes])
    assert det.conf <= min(meta["class_conf"].values())  # decoded low enough for every class's threshold

    proc = cli("model", "compare", tmp_path / "m/site.int8.onnx", tmp_path / "m/site.onnx", "--data", ds, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout)
    assert res["a"]["class_conf"] == meta["class_conf"]
    assert "count_accuracy_at_conf" in res["a"] and "count_accuracy" in res["a"]


def test_from_refuses_what_is_not_a_checkpoint(cli, tmp_path):
    pytest.importorskip("ultralytics")
    ds, _, _ = _dataset(cli, tmp_path, trays=4, per_tray=2)
    (tmp_path / "text.pt").write_text("not weights\n")
    proc = cli("train", "--data", ds, "-o", tmp_path / "run", "--from", tmp_path / "text.pt", "--epochs", "1")
    assert proc.returncode == 2
    assert "text.pt" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("train", "--data", ds, "-o", tmp_path / "run", "--unlabelled", tmp_path / "nowhere")
    assert proc.returncode == 2 and "nowhere: not a folder" in proc.stderr
    shutil.rmtree(tmp_path / "run", ignore_errors=True)


def test_the_pipeline_counts_each_class_at_its_own_threshold(tmp_path):
    """A model family with class_conf: the detector decodes low enough for its lowest threshold, and the
    pipeline keeps a box only above its class's threshold; a camera's min_confidence still beats it."""
    from dataclasses import replace

    from detectors.model_info import MODELS_DIR
    from detectors.onnx_backend import OnnxDetector
    from edge.pipeline.camera import CameraPipeline
    from orders.menu import load_menu
    from orders.queue import OrderQueue

    meta = json.loads((MODELS_DIR / "traycheck-v8n.json").read_text())
    meta["class_conf"] = {"burger": 0.9, "fries": 0.15}
    shutil.copy(MODELS_DIR / "traycheck-v8n.int8.onnx", tmp_path / "site.int8.onnx")
    (tmp_path / "site.json").write_text(json.dumps(meta))
    det = OnnxDetector(tmp_path / "site.int8.onnx", conf=0.25)
    assert det.conf == pytest.approx(0.15)  # below the default: fries at 0.2 must reach the pipeline
    ids = np.array([det.classes.index(c) for c in ("burger", "fries", "drink")])
    pipe = CameraPipeline("expo-1", det, load_menu(None), OrderQueue(), lambda v, p: None)
    assert np.asarray(pipe.sight.floor(det, ids)).tolist() == pytest.approx([0.9, 0.15, 0.25])
    pipe.sight.params = replace(pipe.params, min_confidence=0.5)
    assert pipe.sight.floor(det, ids) == 0.5
    (tmp_path / "site.json").write_text(json.dumps(meta | {"class_conf": {"burger": "high"}}))
    with pytest.raises(Exception, match=r"class_conf\['burger'\]"):
        OnnxDetector(tmp_path / "site.int8.onnx")


def test_installed_base_weights_are_the_default_start(tmp_path, monkeypatch):
    """Without --from, train --data starts from the installed real-image base weights when there are any;
    a named file that is missing is refused, not silently replaced by the bundled model."""
    from detectors.base_weights import BASE_ENV, installed_base

    monkeypatch.delenv(BASE_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert installed_base() is None
    (tmp_path / "share/traycheck").mkdir(parents=True)
    (tmp_path / "share/traycheck/base-weights.pt").write_bytes(b"x")
    assert installed_base() == str(tmp_path / "share/traycheck/base-weights.pt")
    monkeypatch.setenv(BASE_ENV, str(tmp_path / "gone.pt"))
    with pytest.raises(Exception, match="gone.pt: no such file"):
        installed_base()
