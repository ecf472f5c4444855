"""``traycheck model compare``: metrics on hand-made cases, datasets, the command, the report, bad input.

Real components only: the bundled ONNX models, rendered trays, files on disk.
"""
from __future__ import annotations

from edge.errors import InvalidInput
import json
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from detectors.evaluation.dataset import load_labelled
from detectors.evaluation.metrics import Scorer, ultralytics_ap

CLASSES3 = ("burger", "fries", "drink")
BOX = np.array([[10, 10, 60, 60], [100, 10, 150, 60], [200, 10, 250, 60], [10, 100, 60, 150]], np.float32)
GT_CLS = np.array([0, 0, 1, 2])


# ---- datasets ----------------------------------------------------------------------------------------------

def _photo(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((48, 64, 3), 128, np.uint8))


def test_plain_folder_with_labels_beside_or_in_labels(tmp_path: Path) -> None:
    _photo(tmp_path / "a" / "one.jpg")
    (tmp_path / "a" / "one.txt").write_text("1 0.5 0.5 0.5 0.5\n0 0.1 0.1 0.3 0.1 0.3 0.3\n")  # box + polygon
    _photo(tmp_path / "a" / "unlabelled.jpg")
    (tmp_path / "a" / "classes.txt").write_text("burger\nfries\n")
    s = load_labelled(tmp_path / "a")
    assert s.names == ("burger", "fries") and s.unlabelled == 1 and len(s.images) == 1
    np.testing.assert_allclose(s.images[0].boxes, [[0.25, 0.25, 0.75, 0.75], [0.1, 0.1, 0.3, 0.3]], atol=1e-6)
    assert s.images[0].classes.tolist() == [1, 0]

    _photo(tmp_path / "b" / "images" / "x.png")
    (tmp_path / "b" / "labels").mkdir()
    (tmp_path / "b" / "labels" / "x.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    s = load_labelled(tmp_path / "b" / "images", fallback_names=("drink",))
    assert s.names == ("drink",) and len(s.images) == 1 and "model A" in s.names_from


def test_bad_label_line_names_file_and_line(tmp_path: Path) -> None:
    _photo(tmp_path / "p.jpg")
    (tmp_path / "p.txt").write_text("0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n")
    (tmp_path / "classes.txt").write_text("burger\n")
    with pytest.raises(InvalidInput, match=r"p\.txt:2: class 7"):
        load_labelled(tmp_path)


# ---- the command on rendered trays -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """15 val photos (``synth dataset -n 30 --seed 5 --val-fraction 0.5``); one label gets a sauce the photo
    lacks, so both models count that photo wrong whatever they see."""
    from detectors.synth.dataset import write_dataset

    out = tmp_path_factory.mktemp("compare") / "ds"
    write_dataset(out, 30, 5, 0.5)
    label = sorted((out / "labels" / "val").glob("*.txt"))[0]
    label.write_text(label.read_text() + "9 0.02 0.02 0.02 0.02\n")
    return out


def _hand_count_accuracy(ds: Path, model: str) -> float:
    """Share of val photos where the detector at conf 0.25 counts every class right, with the appliance's
    duplicate rule (one item read twice is one item): computed directly."""
    from detectors.detections import drop_merged
    from detectors.loader import load_detector

    det = load_detector(model, conf=0.25)
    right = total = 0
    for img in sorted((ds / "images" / "val").glob("*.jpg")):
        label = ds / "labels" / "val" / (img.stem + ".txt")
        gt = [int(line.split()[0]) for line in label.read_text().splitlines() if line.strip()]
        counts = drop_merged(det.detect(cv2.imread(str(img)))).counts(10)
        right += int(np.array_equal(counts, np.bincount(gt, minlength=10)))
        total += 1
    return right / total


def test_compare_bundled_fp32_vs_int8(rendered: Path, tmp_path: Path, cli) -> None:
    report = tmp_path / "report"
    p = cli("model", "compare", "traycheck-v8n", "traycheck-v8n.int8", "--data", rendered, "--json",
            "--report", report)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["images"] == 15 and r["split"] == "val"
    assert r["a"]["model"] == "traycheck-v8n" and r["b"]["model"] == "traycheck-v8n.int8"
    assert r["b"]["file"].endswith("traycheck-v8n.int8.onnx")
    for key in ("a", "b"):
        m = r[key]
        assert set(m) >= {"model", "classes", "per_class", "map50", "map50_95", "count_accuracy", "ms_per_frame",
                          "images", "confusion"}
        assert m["map50"] > 0.9, m["map50"]  # the bundled model on its own renders
        assert 0.0 <= m["count_accuracy"] < 1.0  # the doctored photo is always wrong
        assert m["ms_per_frame"] > 0
        assert list(m["per_class"]) == m["classes"]
        assert set(m["per_class"]["burger"]) == {"ap50", "ap50_95", "precision", "recall", "count_accuracy", "gt",
                                                 "in_model"}
        cm = np.array(m["confusion"]["matrix"])
        assert m["confusion"]["labels"][-1] == "background"
        # every truth box is either paired with a detection or missed: the truth rows add up to the labels
        assert cm[:10].sum(axis=1).tolist() == [m["per_class"][c]["gt"] for c in m["classes"]]
        assert m["wrong_count_images"] >= 1
    assert r["a"]["count_accuracy"] == round(_hand_count_accuracy(rendered, "traycheck-v8n"), 4)
    assert r["b"]["count_accuracy"] == round(_hand_count_accuracy(rendered, "traycheck-v8n.int8"), 4)

    page = (report / "index.html").read_text()
    assert "traycheck-v8n.int8" in page and "traycheck-v8n" in page
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    doctored = sorted((rendered / "images" / "val").glob("*.jpg"))[0].stem
    for key in ("a", "b"):
        shots = sorted((report / "wrong" / key).glob("*.jpg"))
        assert len(shots) == r[key]["wrong_count_images"]
        assert any(doctored in s.name for s in shots)
        for s in shots:
            assert f"wrong/{key}/{s.name}" in page
            assert cv2.imread(str(s)) is not None


def test_table_output(rendered: Path, cli) -> None:
    p = cli("model", "compare", "traycheck-v8n", "traycheck-v8n.int8", "--data", rendered / "data.yaml",
            "--conf", "0.5")
    assert p.returncode == 0, p.stderr
    for text in ("A AP50", "B AP50-95", "count acc", "cheeseburger", "ms/frame", "conf 0.5"):
        assert text in p.stdout


def test_classes_matched_by_name_and_escaped(rendered: Path, tmp_path: Path) -> None:
    """A dataset whose class the model lacks (and whose name is HTML) scores 0 there, and the page escapes it."""
    from detectors.evaluation.compare import compare_models
    from detectors.evaluation.report_html import write_report

    ds = tmp_path / "ds"
    shutil.copytree(rendered, ds)
    data = yaml.safe_load((ds / "data.yaml").read_text())
    names = dict(data["names"])
    names[0], names[1] = names[1], names[0]  # reorder: matched by name, not by id
    names[9] = "<i>dip</i>"
    for label in (ds / "labels" / "val").glob("*.txt"):  # swap ids 0 and 1 in the labels to keep them true
        lines = [line.split() for line in label.read_text().splitlines() if line.strip()]
        label.write_text("".join(" ".join([{"0": "1", "1": "0"}.get(f[0], f[0]), *f[1:]]) + "\n" for f in lines))
    data.update(names=names, path=str(ds))
    (ds / "data.yaml").write_text(yaml.safe_dump(data))
    cmp = compare_models("traycheck-v8n", "traycheck-v8n.int8", ds)
    a = cmp.result["a"]
    assert a["per_class"]["<i>dip</i>"]["in_model"] is False and a["per_class"]["<i>dip</i>"]["ap50"] == 0.0
    assert a["per_class"]["burger"]["ap50"] > 0.9 and a["per_class"]["cheeseburger"]["ap50"] > 0.9
    assert "sauce" in a["confusion"]["labels"]  # the model's own class, kept as an extra label
    page = write_report(cmp, tmp_path / "rep").read_text()
    assert "&lt;i&gt;dip&lt;/i&gt;" in page and "<i>dip</i>" not in page


# ---- bad input -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["no-dataset", "no-labels", "no-split", "unknown-model"])
def test_bad_input_is_one_line(case: str, tmp_path: Path, cli) -> None:
    data, model, expect = tmp_path / "missing", "traycheck-v8n", "not found"
    if case == "no-labels":
        data = tmp_path / "photos"
        _photo(data / "a.jpg")
        expect = "no labelled images"
    elif case == "no-split":
        data = tmp_path / "ds"
        data.mkdir()
        (data / "data.yaml").write_text(yaml.safe_dump({"path": str(data), "train": "images/train",
                                                         "names": {0: "burger"}}))
        expect = "no 'val' split"
    elif case == "unknown-model":
        model, expect = "no-such-model", "model A (no-such-model)"
    p = cli("model", "compare", model, "traycheck-v8n.int8", "--data", data)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expect in lines[0], p.stderr
    assert "Traceback" not in p.stderr


# ---- agreement with ultralytics' own val ------------------------------------------------------------------------

def _ultralytics_val(model: Path, data_yaml: Path) -> tuple[float, float]:
    from ultralytics import YOLO

    with tempfile.TemporaryDirectory() as tmp:
        r = YOLO(str(model), task="detect").val(data=str(data_yaml), imgsz=[256, 320], batch=1, device="cpu",
                                                plots=False, verbose=False, project=tmp, name="val")
    return float(r.box.map50), float(r.box.map)


@pytest.mark.slow
def test_ap_agrees_with_ultralytics_val(tmp_path: Path) -> None:
    """Our mAP against ultralytics' on renders as they are, and blurred until the model struggles."""
    pytest.importorskip("ultralytics")
    from detectors.evaluation.compare import compare_models
    from detectors.model_info import resolve_model
    from detectors.synth.dataset import write_dataset

    ds = tmp_path / "ds"
    write_dataset(ds, 60, 31, 1.0)
    blurred = tmp_path / "blurred"
    shutil.copytree(ds, blurred)
    for p in (blurred / "images" / "val").glob("*.jpg"):  # 1/12 resolution and back: classes get confused
        img = cv2.imread(str(p))
        h, w = img.shape[:2]
        cv2.imwrite(str(p), cv2.resize(cv2.resize(img, (w // 12, h // 12), interpolation=cv2.INTER_AREA), (w, h)))
    data = yaml.safe_load((blurred / "data.yaml").read_text())
    (blurred / "data.yaml").write_text(yaml.safe_dump({**data, "path": str(blurred)}))

    model = resolve_model("traycheck-v8n")
    measured = {}
    for name, folder in (("renders", ds), ("blurred", blurred)):
        u50, u = _ultralytics_val(model, folder / "data.yaml")
        cmp = compare_models("traycheck-v8n", "traycheck-v8n.int8", folder)
        ours = cmp.result["a"]
        same_interp = cmp.runs[0].scorer.summary(ap_fn=ultralytics_ap)
        measured[name] = (u50, u, ours["map50"], ours["map50_95"], same_interp["map50"], same_interp["map50_95"])
    print("ultralytics mAP50, mAP50-95 | ours (COCO) | ours with ultralytics' interpolation:", measured)
    u50, u, c50, c, i50, i = measured["renders"]
    assert abs(c50 - u50) <= 0.02 and abs(c - u) <= 0.02
    u50, u, c50, c, i50, i = measured["blurred"]
    assert u50 < 0.95  # the blurred set really is hard, so agreement means something
    assert abs(i50 - u50) <= 0.02 and abs(i - u) <= 0.02
    assert abs(c50 - u50) <= 0.04  # COCO's step interpolation reads lower where precision falls off


def test_counts_skip_the_items_the_appliance_would_not_count() -> None:
    """``counted`` masks detections the appliance drops as duplicates: they still rank for AP, never count."""
    dup = np.array([[12, 10, 52, 50]], np.float32)  # one item read a second time, as another class
    xyxy = np.vstack([BOX, dup])
    conf, cls = np.array([0.9, 0.8, 0.7, 0.6, 0.55]), np.append(GT_CLS, 2)
    s = Scorer(CLASSES3, 3, 0.25)
    assert s.add(xyxy, conf, cls, BOX, GT_CLS) is False  # counted as is: one drink too many
    s = Scorer(CLASSES3, 3, 0.25)
    assert s.add(xyxy, conf, cls, BOX, GT_CLS, counted=np.array([True] * 4 + [False])) is True
