"""``traycheck data import``: every export format, checks, duplicates, group split, reproducibility."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import yaml

from detectors.classes import CLASSES
from tests.conftest import run_cli
from tests.labelled_sets import shots, tree_digest, write_coco, write_cvat_yolo, write_voc


@pytest.fixture(scope="module")
def items():
    return shots(trays=8, per_tray=3)


def _labels(ds: Path) -> dict[str, list[tuple]]:
    """source file name -> sorted (class name, rounded box) of an imported dataset."""
    man = json.loads((ds / "manifest.json").read_text())
    names = man["classes"]
    out = {}
    for e in man["images"]:
        lbl = (ds / e["file"].replace("images", "labels", 1)).with_suffix(".txt")
        rows = [ln.split() for ln in lbl.read_text().splitlines()]
        out[e["source"]] = sorted((names[int(r[0])], *(round(float(v), 3) for v in r[1:])) for r in rows)
    return out


def test_cvat_yolo_import_groups_bursts_and_prints_table(tmp_path, items):
    src = write_cvat_yolo(tmp_path / "cvat", items)
    r = run_cli("data", "import", src, "-o", tmp_path / "ds")
    assert r.returncode == 0, r.stderr
    ds = tmp_path / "ds"
    data = yaml.safe_load((ds / "data.yaml").read_text())
    assert data["path"] == str(ds.resolve()) and data["train"] == "images/train" and data["val"] == "images/val"
    assert [data["names"][k] for k in sorted(data["names"])] == list(CLASSES)
    man = json.loads((ds / "manifest.json").read_text())
    assert len(man["images"]) == 24 and man["format"] == "yolo (CVAT YOLO 1.1)"
    # three shots of a tray form one group, and a group never straddles the split
    by_group: dict[int, set[str]] = {}
    for e in man["images"]:
        by_group.setdefault(e["group"], set()).add(e["split"])
    assert len(by_group) <= 8 and all(len(s) == 1 for s in by_group.values())
    assert {"train", "val"} == {s for ss in by_group.values() for s in ss}
    # every image and label landed where data.yaml says; the table names each split
    for e in man["images"]:
        assert (ds / e["file"]).is_file() and e["file"].startswith(f"images/{e['split']}/")
    assert "train images" in r.stderr and "val boxes" in r.stderr and "groups (trays)" in r.stderr


def test_formats_agree(tmp_path, items):
    """The same photos exported as YOLO, COCO and VOC import to the same labels."""
    sets = {}
    for fmt, writer in (("yolo", write_cvat_yolo), ("coco", write_coco), ("voc", write_voc)):
        src = writer(tmp_path / f"src-{fmt}", items[:6])
        r = run_cli("data", "import", src, "-o", tmp_path / fmt, "--val-fraction", "0")
        assert r.returncode == 0, (fmt, r.stderr)
        sets[fmt] = _labels(tmp_path / fmt)
        assert len(sets[fmt]) == 6 and any(sets[fmt].values())
    for fmt in ("coco", "voc"):
        for name, rows in sets["yolo"].items():
            got = sets[fmt][name]
            assert [r[0] for r in got] == [r[0] for r in rows]
            assert all(abs(a - b) <= 0.002 for g, w in zip(got, rows) for a, b in zip(g[1:], w[1:]))


def test_bad_files_are_reported_counted_and_skipped(tmp_path, items):
    src = write_cvat_yolo(tmp_path / "cvat", items[:9])
    d = src / "obj_train_data"
    names = sorted(p.name for p in d.glob("*.jpg"))
    data = (d / names[0]).read_bytes()
    (d / names[0]).write_bytes(data[: len(data) // 2])  # truncated download
    (d / names[1]).write_bytes(b"not a picture at all")
    lbl = (d / names[2]).with_suffix(".txt")
    lbl.write_text(lbl.read_text() + "0 1.40 0.5 0.2 0.2\n" + "1 0.5 0.5 0.0 0.1\n" + "42 0.5 0.5 0.1 0.1\n"
                   + "garbage line\n")
    r = run_cli("data", "import", src, "-o", tmp_path / "ds", "--val-fraction", "0")
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stderr.split())
    assert f"{names[0]}: truncated image file" in out
    assert f"{names[1]}: not a decodable image" in out
    for what in ("outside the 640x480 image", "degenerate", "unknown class id 42", "malformed YOLO line"):
        assert what in out, what
    assert "2 unusable" in out and "4 boxes skipped" in out
    man = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert len(man["images"]) == 7 and len(man["problems"]) == 6
    kept = _labels(tmp_path / "ds")[names[2]]
    assert len(kept) == len(items[2][3])  # the good boxes of that image stay


def test_duplicates_removed_largest_copy_kept(tmp_path, items):
    src = write_cvat_yolo(tmp_path / "cvat", items[:6])
    d = src / "obj_train_data"
    first = sorted(d.glob("*.jpg"), key=lambda p: p.name)[0]
    img = cv2.imread(str(first))
    (d / "zz copy (5000).jpg").write_bytes(first.read_bytes())  # exact copy
    (d / "zz copy (5000).txt").write_text(first.with_suffix(".txt").read_text())
    cv2.imwrite(str(d / "zz small (5001).jpg"), cv2.resize(img, (320, 240), interpolation=cv2.INTER_AREA),
                [cv2.IMWRITE_JPEG_QUALITY, 70])  # a resized re-encoded copy
    (d / "zz small (5001).txt").write_text(first.with_suffix(".txt").read_text())
    with open(src / "train.txt", "a") as f:
        f.write("data/obj_train_data/zz copy (5000).jpg\ndata/obj_train_data/zz small (5001).jpg\n")
    r = run_cli("data", "import", src, "-o", tmp_path / "ds")
    assert r.returncode == 0, r.stderr
    man = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert {x["source"] for x in man["duplicates"]} == {"zz copy (5000).jpg", "zz small (5001).jpg"}
    assert {x["kept"] for x in man["duplicates"]} == {first.name}
    assert len(man["images"]) == 6 and "2 duplicates removed" in " ".join(r.stderr.split())


def test_group_by_regex_map_drop_and_reimport_is_identical(tmp_path, items):
    src = write_cvat_yolo(tmp_path / "cvat", items)
    args = ["data", "import", src, "-o", tmp_path / "ds", "--group-by", r"\((\d+)\)", "--val-fraction", "0.3",
            "--map", "cheeseburger=burger", "--map", "drink=soda", "--drop", "sauce"]
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    ds = tmp_path / "ds"
    man = json.loads((ds / "manifest.json").read_text())
    assert "cheeseburger" not in man["classes"] and "sauce" not in man["classes"] and "soda" in man["classes"]
    assert man["classes"][0] == "burger" and len(man["classes"]) == len(CLASSES) - 2
    assert len({e["group"] for e in man["images"]}) == 24  # every shot number is its own group here
    first = tree_digest(ds)
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    assert tree_digest(ds) == first


@pytest.mark.parametrize("args, message", [
    (["--map", "pizza=burger"], "class 'pizza' (in --map/--drop) is not in the export"),
    (["--map", "burger"], "--map 'burger': expected FROM=TO"),
    (["--group-by", "("], "not a valid regular expression"),
    (["--group-by", "nomatch"], "does not match the file name"),
    (["--format", "tfrecord"], "--format 'tfrecord': unknown"),
])
def test_bad_arguments_one_line_and_nothing_written(tmp_path, items, args, message):
    src = write_cvat_yolo(tmp_path / "cvat", items[:3])
    r = run_cli("data", "import", src, "-o", tmp_path / "ds", *args)
    assert r.returncode == 2 and message in " ".join(r.stderr.split()), r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "ds").exists()


def test_refuses_a_foreign_folder_and_missing_source(tmp_path, items):
    src = write_cvat_yolo(tmp_path / "cvat", items[:3])
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    r = run_cli("data", "import", src, "-o", other)
    assert r.returncode == 2 and "no 'data import' wrote" in r.stderr
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    r = run_cli("data", "import", tmp_path / "nowhere", "-o", tmp_path / "ds")
    assert r.returncode == 2 and "not found" in r.stderr and "Traceback" not in r.stderr
