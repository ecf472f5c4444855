"""Frame sources: a file at its pace or flat out, and a live stream that drops and comes back.

The live stream is served by ffmpeg itself on loopback (``-listen 1``, MPEG-TS over
HTTP). ``ffmpeg -rtsp_flags listen`` cannot serve a reader: ``listen`` is a flag of
ffmpeg's RTSP *demuxer* (it receives a published stream), and its RTSP muxer only
publishes to an existing server. The reader path (OpenCV/FFmpeg, reconnect with
backoff) is the same for both protocols.
"""
from __future__ import annotations

from edge.errors import InvalidInput
import shutil
import socket
import subprocess
import time

import pytest

from edge.app.camera_worker import CameraWorker
from edge.sources.capture import FileSource, LiveSource
from edge.sources.live import StreamClock
from tests.camera_helpers import FrameLog, wait_for
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
    with pytest.raises(InvalidInput, match="must be > 0"):
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
def test_live_stream_disconnects_and_comes_back_within_3_s():
    url = f"http://127.0.0.1:{free_port()}/tray.ts"
    server = _serve(url)
    src = LiveSource(url)  # the service's defaults: backoff capped at 1 s, 5 s open/read timeouts
    try:
        first = _collect(src, 20, 20.0)
        assert len(first) >= 20 and first[0].image.shape == (480, 640, 3)
        server.kill()
        server.wait()
        wait_for(lambda: not src.connected, 10, "the reader did not notice the stream is gone")
        wait_for(lambda: src.state.raw == "reconnecting", 5, "state not reconnecting")
        time.sleep(3)  # the outage: several tries find nothing listening
        assert "connection refused" in src.state.snapshot()["reason"]
        server = _serve(url)
        back = time.monotonic()
        again = _collect(src, 1, 30.0)
        resumed = time.monotonic() - back  # from the server's start, so its own start-up counts too
        assert again, "no frames after the stream came back"
        assert resumed < 3.0, f"frames resumed only {resumed:.1f} s after the stream came back"
        again += _collect(src, 19, 30.0)
        assert len(again) >= 20 and src.reconnects >= 1 and src.state.raw == "ok"
        ts = [f.t for f in first + again]
        assert all(b > a for a, b in zip(ts, ts[1:])), "stream time went back across the reconnect"
    finally:
        src.stop()
        server.kill()
        server.wait()


def test_stream_clock_never_goes_back():
    clock = StreamClock()
    assert [clock(r, 10) for r in (5.0, 5.1, 5.2)] == pytest.approx([0.0, 0.1, 0.2])
    clock.reopened()  # a reconnect: the camera's clock starts again near 0
    assert [clock(r, 10) for r in (0.0, 0.1)] == pytest.approx([0.3, 0.4])
    assert clock(0.05, 10) == pytest.approx(0.5)  # a jump back within one connection: rebased too
    assert FileSource(VIDEO, speed=None, t_floor=7.0).frames().__next__().t == 7.0


def _short_clip(dst):
    """2 s of the fixture (stream copy): a file camera that loops every 2 s."""
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(VIDEO), "-t", "2", "-c", "copy", str(dst)],
                   check=True)
    return dst


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg binary")
def test_file_camera_removed_and_restored_comes_back(tmp_path):
    clip = _short_clip(tmp_path / "cam.mp4")
    sink = FrameLog()
    cam = CameraWorker("expo-1", str(clip), 1.0, sink)
    cam.thread.start()
    try:
        wait_for(lambda: cam.state()["state"] == "ok", 10, "file camera not ok")
        clip.rename(tmp_path / "away.mp4")  # the file disappears: seen at the next end of file
        gone = wait_for(lambda: cam.state()["state"] == "reconnecting" and cam.state(), 10,
                        "the camera did not notice its file is gone")
        assert str(clip) in gone["reason"] and "no such file" in gone["reason"], gone
        assert cam.thread.is_alive() and not cam.stuck(stall_s=1.0)  # waiting for its file is not stuck
        (tmp_path / "away.mp4").rename(clip)
        back = time.monotonic()
        wait_for(lambda: sink.since(back), 3, "no frame within 3 s of the file coming back")
        assert cam.state()["state"] == "ok" and cam.reconnects == 1
        wait_for(lambda: sink.since(back) and sink.since(back)[-1] > sink.since(back)[0] + 2.5, 10,
                 "the file did not loop after it came back")
        times = [t for _, t in sink.seen]
        assert all(b > a for a, b in zip(times, times[1:])), "stream time went back at a loop or a reopen"
        assert times[-1] > 4.0  # two loops and more: the clock went on, it did not restart at 0
    finally:
        cam.stop()
    assert not cam.thread.is_alive()


def test_camera_missing_at_start_reconnecting_then_failed_then_ok(tmp_path):
    path = tmp_path / "later.mp4"
    cam = CameraWorker("expo-1", str(path), 1.0, FrameLog(), fail_after_s=1.0)
    cam.thread.start()
    try:
        st = wait_for(lambda: cam.state()["reason"] != "not opened yet" and cam.state(), 5, "no reason given")
        assert st["state"] == "reconnecting" and str(path) in st["reason"], st
        st = wait_for(lambda: cam.state()["state"] == "failed" and cam.state(), 5, "never failed")
        assert str(path) in st["reason"] and st["for_s"] >= 1.0 and st["since"].endswith("+00:00")
        assert not cam.stuck(stall_s=0.5)  # retrying, not stuck: the watchdog keeps pinging
        shutil.copy(VIDEO, path)
        wait_for(lambda: cam.state()["state"] == "ok", 4, "camera not ok once its file exists")
    finally:
        cam.stop()


def test_unreadable_file_camera_is_retried_not_fatal(tmp_path):
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(b"not a video" * 100)
    cam = CameraWorker("expo-1", str(bad), 1.0, FrameLog())
    cam.thread.start()
    try:
        st = wait_for(lambda: cam.state()["reason"] != "not opened yet" and cam.state(), 5, "no reason given")
        assert "cannot open or decode" in st["reason"] and cam.thread.is_alive()
        shutil.copy(VIDEO, bad)
        wait_for(lambda: cam.state()["state"] == "ok", 4, "camera not ok once the file is a video")
    finally:
        cam.stop()


def test_a_stuck_pipeline_is_stuck_and_a_failing_one_is_not(tmp_path):
    sink = FrameLog()
    cam = CameraWorker("expo-1", str(VIDEO), 1.0, sink)
    cam.thread.start()
    try:
        wait_for(lambda: len(sink.seen) > 5, 10, "no frames")
        assert not cam.stuck(stall_s=1.0)
        sink.hang.set()  # process() blocks: the camera thread is alive but makes no progress
        wait_for(lambda: cam.stuck(stall_s=1.0), 5, "a hanging pipeline is not reported stuck")
        st = cam.state(stall_s=1.0)
        assert st["state"] == "failed" and "processing" in st["reason"], st
        sink.hang.clear()
        sink.release.set()
        wait_for(lambda: not cam.stuck(stall_s=1.0), 5, "still stuck after the pipeline went on")
    finally:
        sink.release.set()
        cam.stop()


def _silent_server() -> socket.socket:
    """A TCP server that accepts and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s


@pytest.mark.parametrize("kind", ["nothing listens", "silent socket"])
@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_doctor_camera_check_keeps_its_time_limit(kind, scheme):
    from edge.app.doctor_cameras import check_camera as _camera

    silent = _silent_server() if kind == "silent socket" else None
    port = silent.getsockname()[1] if silent else free_port()
    try:
        t0 = time.monotonic()
        ok, detail = _camera("expo-1", f"{scheme}://user:secret@127.0.0.1:{port}/cam", timeout=3.0)
        took = time.monotonic() - t0
    finally:
        if silent:
            silent.close()
    assert not ok and took < 3.5, (took, detail)
    assert "secret" not in detail and f"127.0.0.1:{port}" in detail and "no frame within 3 s" in detail
    assert ("connection refused" if kind == "nothing listens" else "accepts connections but sent no video") in detail


def test_missing_v4l2_device_is_retried_with_a_reason():
    dev = next(f"/dev/video{i}" for i in range(9, 64) if not __import__("os").path.exists(f"/dev/video{i}"))
    cam = CameraWorker("expo-1", dev, None, FrameLog())
    cam.thread.start()
    try:
        st = wait_for(lambda: cam.state()["reason"] != "not opened yet" and cam.state(), 5, "no reason given")
        assert st == {**st, "state": "reconnecting", "reason": f"device {dev} not found"}
        time.sleep(2.5)  # tries at 0, 0.25, 0.75, 1.75 s, ...: backoff doubling to 1 s, no busy loop
        assert 3 <= cam.source.attempts <= 6, cam.source.attempts
        assert cam.thread.is_alive() and len(cam.status.history) == 1  # one outage, however many tries
    finally:
        cam.stop()


def test_a_stream_clock_that_jumps_forward_is_rebased_to_the_wall_time_that_passed(caplog):
    """A camera whose timestamps leap an hour (its clock set) must not fire every hold and no-order
    timer at once; a stall that really lasted is kept (the wall clock says it passed)."""
    clock = StreamClock(name="expo-1")
    got = [clock(r, 10, wall=w) for r, w in ((5.0, 100.0), (5.1, 100.1), (3605.2, 100.2), (3605.3, 100.3))]
    assert got == pytest.approx([0.0, 0.1, 0.2, 0.3]) and clock.jumps == 1
    assert "stream time jumped 3600.0 s ahead of the wall clock; rebased" in caplog.text
    assert clock(3607.3, 10, wall=102.3) == pytest.approx(2.3)  # a real 2 s stall: kept
    assert clock.jumps == 1
