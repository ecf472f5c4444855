"""A camera on a real RTSP server (GStreamer's, tests/rtsp_server.py) that dies for 10 s
and comes back: frames again within 3 s of the restart, the state goes ok ->
reconnecting -> ok, and stream time never goes back."""
from __future__ import annotations

import time

import pytest

from edge.camera_worker import CameraWorker
from tests.camera_helpers import FrameLog, RtspServer, gst_rtsp_missing, wait_for
from tests.conftest import FIXTURES
from tests.mqtt_helpers import free_port

VIDEO = FIXTURES / "lunch-rush" / "video.mp4"
MISSING = gst_rtsp_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def test_rtsp_camera_survives_a_server_restart():
    server = RtspServer(VIDEO, free_port())
    server.start()
    sink = FrameLog()
    cam = CameraWorker("expo-1", server.url, None, sink)
    cam.thread.start()
    try:
        wait_for(lambda: len(sink.seen) >= 30, 30, "no frames from the RTSP server")
        first = cam.state()
        assert first["state"] == "ok" and first["reason"] is None
        assert sink.last_frame.image.shape == (480, 640, 3)

        server.kill()
        down = wait_for(lambda: cam.state()["state"] == "reconnecting" and cam.state(), 10,
                        "the camera did not notice the server is gone")
        assert server.url in down["reason"], down
        time.sleep(10 - (time.monotonic() - cam.status._since))  # the outage lasts 10 s
        assert cam.thread.is_alive() and cam.state()["state"] == "reconnecting"
        assert "connection refused" in cam.state()["reason"]

        server.start()
        back = time.monotonic()
        wait_for(lambda: sink.since(back), 3.0, "no frame within 3 s of the RTSP server's restart")
        resumed = time.monotonic() - back
        wait_for(lambda: cam.state()["state"] == "ok", 1, "state not ok again although frames arrive")
        assert [s for s, _, _ in cam.status.history][-3:] == ["ok", "reconnecting", "ok"]
        assert cam.reconnects == 1

        wait_for(lambda: len(sink.since(back)) >= 15, 10, "frames stopped again after the restart")
        times = [t for _, t in sink.seen]
        assert all(b > a for a, b in zip(times, times[1:])), "stream time went back across the reconnect"
        print(f"frames again {resumed:.2f} s after the RTSP server's restart")
    finally:
        cam.stop()
        server.kill()
    assert not cam.thread.is_alive()
