"""The reference view of a station: what its camera sees when the check zone is empty.

The health checks (``edge.pipeline.camera_health``) compare idle frames with it: a small
grey image, its brightness and sharpness, and ORB keypoints of the fixed scene. It is
learned from the first seconds of idle stream (the median of a few samples, so noise
and one passing hand do not stay in it), or captured on demand (``traycheck camera
calibrate``, the system page's refresh), and kept per camera in the data directory so a
restart compares with the station as it was set up, not as it is now.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

HEALTH_SIZE = (160, 120)  # the checks' frame: small enough to cost nothing once a second
U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


def small_grey(image: npt.NDArray[np.uint8]) -> U8:
    """A camera frame (BGR or grey) as the checks' low-resolution grey image."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image  # (grey first: cheaper)
    return np.asarray(cv2.resize(grey, HEALTH_SIZE, interpolation=cv2.INTER_AREA), np.uint8)


def brightness(grey: U8) -> float:
    return float(grey.mean())


def sharpness(grey: U8) -> float:
    """Variance of the Laplacian of the grey image scaled to mean 128: a dimmer (or flickering)
    view of the same scene keeps its sharpness, only blur or fog lowers it."""
    g = grey.astype(np.float32) * np.float32(128.0 / max(float(grey.mean()), 1.0))
    return float(cv2.Laplacian(g, cv2.CV_32F).var())


def keypoints(grey: U8) -> tuple[F32, U8]:
    """ORB keypoints of the view: (N, 2) positions and (N, 32) descriptors (N may be 0). A detector
    per call (cheap next to the detection): camera threads never share one."""
    orb = cv2.ORB_create(  # type: ignore[attr-defined]  # (missing from OpenCV's stubs)
        nfeatures=300, scaleFactor=1.2, nlevels=3, edgeThreshold=8, patchSize=15, fastThreshold=8)
    kps, desc = orb.detectAndCompute(grey, None)
    if desc is None or not kps:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    return np.array([k.pt for k in kps], np.float32), np.asarray(desc, np.uint8)


@dataclass(frozen=True)
class ReferenceView:
    grey: U8  # HEALTH_SIZE grey image of the empty station
    brightness: float
    sharpness: float
    points: F32  # ORB keypoint positions in ``grey``
    descriptors: U8
    learned_t: float = 0.0  # stream time it was learned at (0 for a calibration)

    @classmethod
    def from_greys(cls, greys: list[U8], t: float = 0.0) -> ReferenceView:
        """The reference of a few idle samples: their per-pixel median."""
        grey = np.median(np.stack(greys), axis=0).astype(np.uint8) if len(greys) > 1 else greys[0]
        pts, desc = keypoints(grey)
        return cls(grey, brightness(grey), sharpness(grey), pts, desc, t)

    # -- stored with the station's data ------------------------------------------
    def save(self, path: Path) -> None:
        """Write atomically (a crash leaves the old reference or the new one, never half)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez_compressed(buf, grey=self.grey, points=self.points, descriptors=self.descriptors,
                            figures=np.array([self.brightness, self.sharpness, self.learned_t], np.float64))
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> ReferenceView | None:
        """The stored reference, or None when there is none or it cannot be read (it is learned again)."""
        try:
            with np.load(path) as z:
                grey = np.asarray(z["grey"], np.uint8)
                fig = z["figures"]
                if grey.shape != (HEALTH_SIZE[1], HEALTH_SIZE[0]):
                    return None
                return cls(grey, float(fig[0]), float(fig[1]), np.asarray(z["points"], np.float32),
                           np.asarray(z["descriptors"], np.uint8), float(fig[2]))
        except (OSError, ValueError, KeyError, IndexError):
            return None


def reference_path(data_dir: Path, camera: str) -> Path:
    """Where a camera's reference view is kept in the data directory."""
    return Path(data_dir) / "reference" / f"{camera}.npz"
