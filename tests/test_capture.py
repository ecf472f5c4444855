"""Frame sources: a file at its pace or flat out, and a live stream that drops and comes back.

The live stream is served by ffmpeg itself on loopback (``-listen 1``, MPEG-TS over
HTTP). ``ffmpeg -rtsp_flags listen`` cannot serve a reader: ``listen`` is a flag of
ffmpeg's RTSP *demuxer* (it receives a published stream), and its RTSP muxer only
publishes to an existing server. The reader path (OpenCV/FFmpeg, reconnect with
backoff) is the same for both protocols.
"""
from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from edge.capture import FileSource, LiveSource
from edge.errors import UserError
from tests.conftest import FIXTURES
from tests.mqtt_helpers import free_port

VIDEO = FIXTURES / "lunch-rush" / "video.mp4"


def test_file_source_max_speed_and_paced():
    src = FileSource(VIDEO, speed=None)
    frames = []
    for f in src.frames():
        frames.append(f)
        if len(frames) == 30:
            break
    assert [f.index for f in frames] == list(range(30))
    assert frames[15].t == pytest.approx(1.0) and frames[0].image.shape == (480, 640, 3)
    t0 = time.monotonic()
    for f in FileSource(VIDEO, speed=4.0).frames():
        if f.t >= 1.0:
            break
    assert time.monotonic() - t0 >= 0.2  # 1 s of video at 4x takes 0.25 s


def test_bad_speed():
    with pytest.raises(UserError, match="must be > 0"):
        FileSource(VIDEO, speed=0)


def _serve(url: str) -> subprocess.Popen:
    return subprocess.Popen(["ffmpeg", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(VIDEO),
                             "-c", "copy", "-f", "mpegts", "-listen", "1", url],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _collect(src: LiveSource, n: int, timeout: float) -> list:
    got = []
    deadline = time.monotonic() + timeout
    for f in src.frames():
        got.append(f)
        if len(got) >= n or time.monotonic() > deadline:
            break
    return got


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg binary")
def test_live_stream_disconnects_and_comes_back():
    url = f"http://127.0.0.1:{free_port()}/tray.ts"
    server = _serve(url)
    src = LiveSource(url, stall_s=3.0, backoff_s=(0.2, 1.0))
    try:
        first = _collect(src, 20, 20.0)
        assert len(first) >= 20 and first[0].image.shape == (480, 640, 3)
        server.kill()
        server.wait()
        time.sleep(1.5)
        assert not src.connected  # the reader noticed the stream is gone
        server = _serve(url)
        again = _collect(src, 20, 30.0)
        assert len(again) >= 20, "no frames after the stream came back"
        assert src.reconnects >= 1
    finally:
        src.stop()
        server.kill()
        server.wait()
