"""Export trained weights to ONNX fp32 and static INT8, and score both files.

INT8 uses ONNX Runtime static quantisation (QDQ, per-channel weights)
calibrated on frames from the renderer. The detection head's box decoding
(DFL softmax, anchor arithmetic, final concat) stays in float: quantising it
costs box precision and buys almost no speed.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path


from detectors.classes import CLASSES
from detectors.letterbox import Letterboxer
from detectors.onnx_rewrite import fast_dfl
from edge.errors import UserError
from edge.progress import console, progress_bar

INPUT_HW = (256, 320)  # a 4:3 frame at 320 wide: 240 rows + 2 x 8 rows of padding (stride 32)
CALIB_SEED = 555_555
CALIB_PERCENTILE = 99.999


class _FrameReader:
    """CalibrationDataReader over rendered training-like frames."""

    def __init__(self, name: str, n: int, seed: int, input_hw: tuple[int, int]):
        from detectors.synth.dataset import render_sample

        lb = Letterboxer(input_hw)
        self.name = name
        self.blobs = []
        with progress_bar("Rendering calibration frames", n) as advance:
            for i in range(n):
                self.blobs.append(lb(render_sample(seed, i)[0])[0].copy())
                advance(1)
        self._it = iter(self.blobs)

    def get_next(self):
        b = next(self._it, None)
        return None if b is None else {self.name: b}

    def rewind(self) -> None:
        self._it = iter(self.blobs)


def float_nodes(model_path: Path) -> list[str]:
    """Nodes kept in float: the stem (the first two convs see raw pixels; quantising them
    cost 0.014 mAP50-95 here), the box decoding of the Detect head, and the last conv of
    each box-regression branch (its DFL logits set the box edges mAP50-95 measures)."""
    import onnx

    m = onnx.load(str(model_path))
    nodes = m.graph.node
    # the Detect module is the last model.<k>; its conv branches (cv2/cv3) are quantised, the rest not
    last = max(int(n.name.split("/")[1].split(".")[1]) for n in nodes if n.name.startswith("/model."))
    prefix = f"/model.{last}/"
    decode = [n.name for n in nodes if n.name.startswith(prefix) and "/cv2." not in n.name and "/cv3." not in n.name]
    box_out = [n.name for n in nodes if n.name.startswith(prefix + "cv2.") and n.name.endswith(".2/Conv")]
    stem = [n.name for n in nodes if n.name.startswith(("/model.0/", "/model.1/"))]
    return stem + decode + box_out


def quantize_int8(fp32: Path, out: Path, calib: int, seed: int = CALIB_SEED) -> Path:
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    sess = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    reader = _FrameReader(inp.name, calib, seed, (inp.shape[2], inp.shape[3]))
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        console.print("quantising (static, per-channel, QDQ)...")
        quantize_static(str(pre), str(out), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.Percentile, nodes_to_exclude=float_nodes(pre),
                        extra_options={"CalibPercentile": CALIB_PERCENTILE})
    return out


def validate(model: Path, data_yaml: Path, imgsz: tuple[int, int]) -> dict[str, float]:
    """mAP50 and mAP50-95 from ultralytics' own ``val`` on the model file."""
    from detectors.train import require_ultralytics

    YOLO = require_ultralytics()
    with tempfile.TemporaryDirectory() as tmp:
        r = YOLO(str(model), task="detect").val(data=str(data_yaml), imgsz=list(imgsz), batch=1, device="cpu",
                                                plots=False, verbose=False, project=tmp, name="val")
    return {"mAP50": round(float(r.box.map50), 4), "mAP50-95": round(float(r.box.map), 4)}


def export_all(weights: Path, name: str, out_dir: Path, calib: int, val_images: int, val_seed: int,
               settings: Path | None) -> dict:
    """Write <name>.onnx, <name>.int8.onnx, <name>.pt and <name>.json into ``out_dir``."""
    from detectors.synth.dataset import write_dataset
    from detectors.train import require_ultralytics

    weights = Path(weights)
    if not weights.is_file():
        raise UserError(f"weights file {weights}: not found")
    YOLO = require_ultralytics()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = YOLO(str(weights))
    classes = [model.names[i] for i in sorted(model.names)]
    if tuple(classes) != CLASSES:
        raise UserError(f"{weights}: classes {classes} differ from the bundled class list")
    onnx_tmp = Path(model.export(format="onnx", imgsz=list(INPUT_HW), simplify=True, dynamic=False,
                                 half=False, device="cpu", verbose=False))
    fp32 = out_dir / f"{name}.onnx"
    shutil.move(str(onnx_tmp), fp32)
    fast_dfl(fp32)
    int8 = quantize_int8(fp32, out_dir / f"{name}.int8.onnx", calib)
    pt = out_dir / f"{name}.pt"
    if weights.resolve() != pt.resolve():
        shutil.copy(weights, pt)
    with tempfile.TemporaryDirectory() as tmp:
        with progress_bar(f"Rendering {val_images} validation trays (seed {val_seed})", val_images) as advance:
            data = write_dataset(Path(tmp) / "val", val_images, val_seed, 1.0, advance)
        metrics = {"val_seed": val_seed, "val_images": val_images,
                   "fp32": validate(fp32, data, INPUT_HW), "int8": validate(int8, data, INPUT_HW)}
    train_settings = json.loads(Path(settings).read_text()) if settings else {}
    meta = {
        "name": name,
        "classes": classes,
        "imgsz": list(INPUT_HW),
        "input": "NCHW float32 RGB 0..1, letterboxed (pad 114), fixed shape",
        "files": {"fp32": fp32.name, "int8": int8.name, "pt": pt.name},
        "train": train_settings,
        "calibration": {"frames": calib, "seed": CALIB_SEED, "method": f"Percentile {CALIB_PERCENTILE}",
                        "per_channel": True,
                        "float_nodes": "stem (model.0-1), Detect box decoding and box-branch output convs"},
        "metrics": metrics,
    }
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
