"""Ultralytics backend for ``.pt`` weights: ultralytics' own ``predict``.

The reference the ONNX backend is checked against, and the way to run a
freshly trained model before exporting it. Needs the ``[train]`` extra.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from detectors.detections import Detections
from detectors.model_info import load_metadata, lookalike_pairs, metadata_path
from edge.errors import InvalidInput


class UltralyticsDetector:
    def __init__(self, model: str | Path, conf: float = 0.25, iou: float = 0.7, threads: int = 2,
                 imgsz: int | None = None, max_det: int = 100):
        from detectors.train import require_ultralytics

        YOLO = require_ultralytics()
        import torch

        torch.set_num_threads(threads)
        path = Path(model)
        if not path.is_file():
            raise InvalidInput(f"model file {path}: not found")
        self.path = path  # (what the service, the recorder and the system page name the model by)
        self.model = YOLO(str(path), task="detect")
        names = self.model.names
        self.classes = tuple(names[i] for i in sorted(names))  # a checkpoint carries its class names
        meta = load_metadata(path)  # (a fresh RUN/best.pt has none: no look-alike pairs until export writes them)
        self.lookalikes = lookalike_pairs(meta, self.classes, f"model metadata {metadata_path(path)}")
        self.imgsz = imgsz or int(max(meta.get("imgsz", [320, 320])))
        self.conf, self.iou, self.max_det = conf, iou, max_det

    def detect(self, frame: np.ndarray) -> Detections:
        r = self.model.predict(frame, imgsz=self.imgsz, conf=self.conf, iou=self.iou, max_det=self.max_det,
                               device="cpu", verbose=False)[0]
        b = r.boxes
        return Detections(b.xyxy.numpy().astype(np.float32), b.conf.numpy().astype(np.float32),
                          b.cls.numpy().astype(np.int64))
