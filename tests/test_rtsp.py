"""A camera on a real RTSP server (GStreamer's, tests/rtsp_server.py) that dies for 10 s
and comes back: frames again within 3 s of the restart, the state goes ok ->
reconnecting -> ok, and stream time never goes back."""
from __future__ import annotations

import time

import pytest

from edge.app.camera_worker import CameraWorker
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
        killed = time.monotonic()
        down = wait_for(lambda: cam.state()["state"] == "reconnecting" and cam.state(), 10,
                        "the camera did not notice the server is gone")
        assert server.url in down["reason"], down
        time.sleep(max(0.0, 10 - (time.monotonic() - killed)))  # the outage lasts 10 s
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


def _verdicts(base: str) -> float:
    import httpx

    text = httpx.get(f"{base}/metrics", timeout=5).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("traycheck_verdicts_total"))


def test_service_on_rtsp_keeps_judging_trays_across_a_server_restart(tmp_path):
    """The appliance itself (``traycheck run``) on the RTSP camera: ready, verdicts; the server
    dies 10 s (/readyz 503, reconnecting with the reason); back: ready within 3 s, verdicts go on."""
    import signal
    import subprocess
    import sys

    import httpx

    from tests.conftest import ROOT, wait_http_ok

    server = RtspServer(VIDEO, free_port())
    server.start()
    port = free_port()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""site: test-site
data_dir: {tmp_path / 'data'}
cameras:
  - name: expo-1
    source: {server.url}
http: {{listen: "127.0.0.1:{port}", api_token: tok}}
retention: {{days: 30, min_free_mb: 0}}
""")
    p = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(cfg)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{base}/readyz", p, "the service on the RTSP camera did not get ready", timeout=90)
        wait_for(lambda: _verdicts(base) >= 1, 40, "no verdict from the RTSP camera")

        server.kill()
        killed = time.monotonic()
        r = wait_for(lambda: (r := httpx.get(f"{base}/readyz")).status_code == 503 and r, 10,
                     "/readyz still ready with the RTSP server gone")
        st = r.json()["camera_state"]["expo-1"]
        assert st["state"] == "reconnecting" and server.url in st["reason"], st
        time.sleep(max(0.0, 10 - (time.monotonic() - killed)))  # the outage lasts 10 s
        assert httpx.get(f"{base}/readyz").status_code == 503

        server.start()
        back = time.monotonic()
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 3.0,
                 "not ready within 3 s of the RTSP server's restart", every=0.1)
        print(f"service ready again {time.monotonic() - back:.2f} s after the RTSP server's restart")
        before = _verdicts(base)
        wait_for(lambda: _verdicts(base) > before, 40, "no verdict after the RTSP server came back")
    finally:
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=20)
        server.kill()
    assert p.returncode == 0, out
    assert "Traceback" not in out, out
