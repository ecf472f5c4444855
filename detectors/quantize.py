"""Static INT8 quantisation of an fp32 ONNX detector (ONNX Runtime, QDQ, per-channel weights).

Calibrated on frames from the renderer, or on a dataset's own photos. The stem and the
detection head's box decoding (DFL softmax, anchor arithmetic, final concat) stay in float:
quantising them costs box precision and buys almost no speed.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import cv2

from detectors.letterbox import Letterboxer
from detectors.synth.dataset import render_sample
from edge.core import console, progress_bar

CALIB_SEED = 555_555
CALIB_PERCENTILE = 99.999


class _FrameReader:
    """CalibrationDataReader over rendered training-like frames, or a dataset's own photos."""

    def __init__(self, name: str, n: int, seed: int, input_hw: tuple[int, int], photos: list[Path] | None = None):
        lb = Letterboxer(input_hw)
        self.name = name
        self.blobs = []
        if photos:
            picks = photos[:: max(1, len(photos) // n)][:n]  # spread over the set, not its first shots
            with progress_bar(f"Reading {len(picks)} calibration photos", len(picks)) as advance:
                for p in picks:
                    img = cv2.imread(str(p))
                    if img is not None:
                        self.blobs.append(lb(img)[0].copy())
                    advance(1)
        else:
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


def quantize_int8(fp32: Path, out: Path, calib: int, seed: int = CALIB_SEED,
                  photos: list[Path] | None = None) -> Path:
    """Write ``out``: ``fp32`` quantised to INT8, calibrated on ``calib`` frames (``photos`` or renders)."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    sess = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    reader = _FrameReader(inp.name, calib, seed, (inp.shape[2], inp.shape[3]), photos)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        console.print("quantising (static, per-channel, QDQ)...")
        quantize_static(str(pre), str(out), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.Percentile, nodes_to_exclude=float_nodes(pre),
                        extra_options={"CalibPercentile": CALIB_PERCENTILE})
    return out
