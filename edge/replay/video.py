"""The annotated video of a replay (``replay --video``): boxes of the counted items
and a verdict banner per tray, so a QA run can be watched afterwards."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from detectors.drawing import annotate
from detectors.synth.video import VideoWriter
from edge.pipeline.camera import CameraPipeline
from edge.pipeline.verdicts import BANNER, banner_text
from edge.sources.capture import Frame


class ReplayVideo:
    """Writes one annotated frame per pipeline frame (call after ``pipe.process``)."""

    def __init__(self, path: Path, width: int, height: int, fps: float):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = VideoWriter(path, width, height, int(round(fps)), crf=26, max_kbps=0).__enter__()

    def __call__(self, frame: Frame, pipe: CameraPipeline) -> None:
        img = annotate(frame.image, pipe.last_detections, pipe.classes)
        tray = pipe.tray
        state = pipe.tracker.state.value
        cv2.putText(img, f"t={frame.t:6.2f}s  {state}", (8, img.shape[0] - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255), 1, cv2.LINE_AA)
        if tray is not None and tray.verdicts:
            v = tray.verdicts[-1]
            cv2.rectangle(img, (0, 0), (img.shape[1], 34), BANNER.get(v.verdict, (90, 90, 90)), -1)
            cv2.putText(img, banner_text(v), (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2,
                        cv2.LINE_AA)
        self.writer.write(np.ascontiguousarray(img))

    def close(self) -> None:
        self.writer.__exit__(None, None, None)
