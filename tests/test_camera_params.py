"""Per-camera overrides of the pipeline and tray thresholds: validated against the parameter
dataclasses' own fields, and given to that camera's pipeline only."""
from __future__ import annotations

from edge.errors import InvalidInput
from pathlib import Path

import cv2
import pytest

from edge.app.config import load_config
from edge.app.service import Service
from edge.sources.frame import Frame
from tests.conftest import FIXTURES

pytestmark = pytest.mark.quick

TWO = """\
site: s
data_dir: {data}
cameras:
  - name: strict
    source: {video}
    pipeline: {{min_confidence: 0.999, mismatch_confirm_s: 1.5}}
    tray: {{vote_frames: 7}}
  - {{name: plain, source: {video}}}
http: {{listen: "127.0.0.1:8080", api_token: tok}}
retention: {{days: 30, min_free_mb: 0}}
"""


def _config(tmp_path: Path, old: str = "", new: str = "") -> Path:
    text = TWO.format(data=tmp_path / "data", video=FIXTURES / "lunch-rush" / "video.mp4")
    assert old in text, old
    p = tmp_path / "c.yaml"
    p.write_text(text.replace(old, new, 1))
    return p


@pytest.mark.parametrize("old,new,expect", [
    ("mismatch_confirm_s: 1.5", "xyz: 1", "cameras.0.pipeline.xyz: Extra inputs are not permitted (got 1)"),
    ("vote_frames: 7", "vote_frame: 7", "cameras.0.tray.vote_frame: Extra inputs are not permitted"),
    ("vote_frames: 7", "vote_frames: 0", "cameras.0.tray.vote_frames: Input should be greater than or equal to 1"),
    ("min_confidence: 0.999", "min_confidence: 1.5", "cameras.0.pipeline.min_confidence: Input should be less"),
    ("mismatch_confirm_s: 1.5", "tray: {vote_frames: 3}", "cameras.0.pipeline.tray: Extra inputs are not permitted"),
    ("mismatch_confirm_s: 1.5", "ticket_tries: 2.5", "cameras.0.pipeline.ticket_tries: Input should be a valid integer"),
    ("mismatch_confirm_s: 1.5", "ticket_stride: 0", "cameras.0.pipeline.ticket_stride: Input should be greater than"),
])
def test_a_bad_override_is_one_line_naming_its_key_path(tmp_path, old, new, expect):
    p = _config(tmp_path, old, new)
    with pytest.raises(InvalidInput) as err:
        load_config(p)
    msg = str(err.value)
    assert msg.startswith(f"config {p}: ") and expect in msg and "\n" not in msg, msg


def test_an_override_reaches_its_cameras_pipeline_and_not_the_others(tmp_path):
    cfg_file = _config(tmp_path)
    svc = Service(load_config(cfg_file), cfg_file, serve_http=False)
    try:
        strict, plain = (w.pipeline for w in svc.workers)
        assert (strict.camera, plain.camera) == ("strict", "plain")
        assert strict.params.min_confidence == 0.999 and strict.params.mismatch_confirm_s == 1.5
        assert strict.tracker.params.vote_frames == 7 and strict.params.ticket_tries == 5  # the rest: defaults
        assert plain.params.min_confidence is None and plain.params.mismatch_confirm_s == 0.5
        assert plain.tracker.params.vote_frames == 5
        # and it acts: the same frames through both, the 0.999 floor (which beats the model's own
        # operating threshold) leaves the strict camera no item while the plain one counts some
        cap = cv2.VideoCapture(str(FIXTURES / "lunch-rush" / "video.mp4"))
        fps = cap.get(cv2.CAP_PROP_FPS) or 15.0
        seen = {"strict": 0, "plain": 0}
        try:
            for i in range(int(fps * 12)):
                ok, img = cap.read()
                if not ok:
                    break
                for pipe in (strict, plain):
                    pipe.process(Frame(i, i / fps, img))
                    seen[pipe.camera] += len(pipe.last_detections)
                if seen["plain"] > 20:
                    break
        finally:
            cap.release()
        assert strict.detected_frames > 0  # its detector ran: the floor dropped what it found
        assert seen["plain"] > 20 and seen["strict"] == 0, seen
    finally:
        svc.stop(flush_s=0)
