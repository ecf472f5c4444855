"""``traycheck bench``: detector throughput and latency, every backend on the same frames.

Frames are the first ``--frames`` of the video, kept as it streams past (decoding is not timed;
only those frames stay in memory, never the whole video) and each backend gets a
few warm-up calls; then the backends take turns over the frames in rounds, so
the host's slow moments (this is a shared VM) do not favour one of them.
Rows follow contract section 5: name, fps, p50_ms, p95_ms.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from detectors.detections import Detector
from edge.core import progress_bar
from edge.errors import InvalidInput
from edge.sources.video_file import VideoFile, shift_video

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
WARMUP = 5


def default_fixture() -> Path:
    for name in ("lunch-rush", "dim-evening", "blurry-breakfast"):
        if (FIXTURES / name / "video.mp4").is_file():
            return FIXTURES / name
    raise InvalidInput(f"no bundled fixture under {FIXTURES}; pass --fixture DIR")


def load_frames(source: Path, n: int, stream: bool = False) -> list[np.ndarray]:
    """``n`` frames of the video, kept as it streams past (a long shift is never held in memory
    whole). ``stream``: the first ``n`` in a row, a stretch of real 15 fps stream (what ``bench``
    uses: the pipeline row must see a tray arrive, rest and leave as a camera does, its gate
    skipping still frames and its ticket reader trying a few frames per tray); else ``n`` spread
    evenly over the video (trays, hands and empty counter all count: a quick sample for tests)."""
    path = shift_video(source)
    if stream:
        want = set(range(n))
    else:
        head = VideoFile(path)
        head.cap.release()
        total = head.frame_count or sum(1 for _ in VideoFile(path))  # (no count in the header: one pass)
        want = set(np.linspace(0, max(total - 1, 0), min(n, total)).astype(int).tolist())
    frames: list[np.ndarray] = []
    video = VideoFile(path)
    for i, (_, f) in enumerate(video):
        if i in want:
            frames.append(f)
        if i >= max(want):
            break
    video.cap.release()
    if not frames:
        raise InvalidInput(f"{source}: the video has no frames")
    return frames


ROUNDS = 5  # the backends take turns in rounds: a slow moment of the host hits all of them alike
SETTLE_S = 0.3  # pause between turns: one backend's idle worker threads stop spinning before the next


def time_detectors(dets: Mapping[str, Detector], frames: list[np.ndarray], quiet: bool) -> dict[str, list[float]]:
    """Per-call latency of every detector on every frame, interleaved in rounds."""
    for det in dets.values():
        for f in frames[:WARMUP]:
            det.detect(f)
    lat: dict[str, list[float]] = {name: [] for name in dets}
    chunks = np.array_split(np.arange(len(frames)), ROUNDS)
    with progress_bar(f"bench {', '.join(dets)}", len(frames) * len(dets)) as advance:
        for chunk in chunks:
            for name, det in dets.items():
                time.sleep(SETTLE_S)
                for i in chunk:
                    t0 = time.perf_counter()
                    det.detect(frames[i])
                    lat[name].append((time.perf_counter() - t0) * 1000)
                if not quiet:
                    advance(len(chunk))
    return lat
