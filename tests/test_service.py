"""The appliance process and its configuration."""
from __future__ import annotations

from edge.errors import InvalidInput
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from edge.app.config import load_config
from tests.conftest import FIXTURES, ROOT, wait_http_ok
from tests.mqtt_helpers import free_port

GOOD = """\
site: test-site
data_dir: {data}
cameras:
  - name: expo-1
    source: {src}
    speed: 4
http: {{listen: "127.0.0.1:{port}", api_token: tok}}
retention: {{days: 30, min_free_mb: 0}}
"""


@pytest.mark.parametrize("old,new,expect", [
    ("  - name: expo-1\n    source: {src}\n    speed: 4\n", "  []\n", "cameras: List should have at least 1 item"),
    ("  - name: expo-1", "  - name: Expo 1", "cameras.0.name: must be lower-case"),
    ("    speed: 4", "    speed: 4\n    zone: [[0, 0], [2, 0], [1, 1]]", "cameras.0.zone: zone points are fractions"),
    ("retention: {days: 30, min_free_mb: 0}", "retention: {days: -1}",
     "retention.days: Input should be greater than 0 (got -1)"),
    ("site: test-site", "site: test-site\nwifi: on", "wifi: Extra inputs are not permitted"),
    ('http: {listen: "127.0.0.1:8080", api_token: tok}', "http: {listen: nowhere}",
     "http.listen: expected HOST:PORT, e.g. 0.0.0.0:8080 (got 'nowhere')"),
    ("    speed: 4", "    speed: fast", "cameras.0.speed: Input should be a valid number"),
])
def test_config_errors_name_the_key(tmp_path, old, new, expect):
    src = str(FIXTURES / "lunch-rush")
    text = GOOD.format(data=tmp_path, src=src, port=8080)
    old = old.replace("{src}", src)
    assert old in text, old
    p = tmp_path / "c.yaml"
    p.write_text(text.replace(old, new))
    with pytest.raises(InvalidInput) as err:
        load_config(p)
    assert expect in str(err.value) and str(p) in str(err.value), str(err.value)


def test_run_serves_health_takes_orders_and_stops_on_sigterm(tmp_path):
    port = free_port()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(GOOD.format(data=tmp_path / "data", src=FIXTURES / "lunch-rush", port=port))
    p = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(cfg)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{base}/healthz", p, "service did not come up")
        r = httpx.post(f"{base}/api/orders", json={"id": "42", "items": [{"sku": "WRAP"}]},
                       headers={"Authorization": "Bearer tok"})
        assert r.status_code == 200
        time.sleep(8)  # 32 s of video at 4x: a few trays
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=15)
        assert rc == 0 and time.monotonic() - t0 < 10
    finally:
        if p.poll() is None:
            p.kill()
    conn = sqlite3.connect(tmp_path / "data" / "traycheck.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM orders WHERE id = '42'").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] >= 1


def test_metrics_and_readiness(tmp_path):
    port = free_port()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(GOOD.format(data=tmp_path / "data", src=FIXTURES / "lunch-rush", port=port))
    p = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(cfg)], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        r = wait_http_ok(f"{base}/readyz", p, "service did not get ready")
        assert r.json()["cameras"] == {"expo-1": True}
        time.sleep(2)
        text = httpx.get(f"{base}/metrics").text
        series = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
        assert all(s.startswith("traycheck_") for s in series if not s.startswith(("python_", "process_")))
        for name in ("traycheck_frames_total", "traycheck_detector_latency_seconds_count", "traycheck_outbox_length",
                     "traycheck_storage_free_bytes", "traycheck_camera_fps", "traycheck_frames_dropped_total"):
            assert name in series, name
        frames = [float(line.split()[-1]) for line in text.splitlines() if line.startswith("traycheck_frames_total")]
        assert frames and frames[0] > 0
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=15)


def test_doctor_passes_and_fails_clearly(tmp_path, cli):
    from tests.mqtt_helpers import Broker

    broker = Broker(tmp_path)
    broker.start()
    try:
        cfg = tmp_path / "c.yaml"
        text = GOOD.format(data=tmp_path / "data", src=FIXTURES / "lunch-rush", port=8080)
        cfg.write_text(text + f"mqtt: {{host: 127.0.0.1, port: {broker.port}}}\n")
        ok = cli("doctor", "--config", cfg)
        assert ok.returncode == 0, ok.stderr
        assert "camera expo-1" in ok.stderr and "FAIL" not in ok.stderr
        assert "traycheck-v8n.int8.onnx" in ok.stderr and "(detector.int8: auto)" in ok.stderr  # which file, why
        bad = tmp_path / "bad.yaml"
        bad.write_text(text.replace(str(FIXTURES / "lunch-rush"), str(tmp_path / "nothing.mp4"))
                       + f"mqtt: {{host: 127.0.0.1, port: {broker.port + 1 if broker.port < 65535 else 1}}}\n")
        proc = cli("doctor", "--config", bad)
        assert proc.returncode == 1
        assert proc.stderr.count("FAIL") == 2 and "nothing.mp4" in proc.stderr
    finally:
        broker.stop()


def test_camera_missing_at_start_is_visible_and_comes_back(tmp_path):
    """A camera file missing at start: the service runs, /readyz says which camera and why
    (503), /metrics and the system page show it, the watchdog keeps pinging (the service is
    retrying, not stuck); the file appears -> ready, frames counted."""
    import shutil
    import socket

    from edge.store.store import Store
    from edge.store.users import Users
    from tests.camera_helpers import wait_for

    data = tmp_path / "data"
    data.mkdir()
    store = Store(data / "traycheck.db", outbox=False)
    Users(store.db).add("max", "manager", "manager-pw")
    store.close()
    cam = tmp_path / "cam.mp4"
    port = free_port()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(GOOD.format(data=data, src=cam, port=port))
    notify_path = tmp_path / "notify"
    sd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sd.bind(str(notify_path))
    sd.settimeout(0.2)
    env = dict(__import__("os").environ, NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="1000000")
    p = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(cfg)], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    messages: list[str] = []

    def received(what: str) -> int:
        try:
            while True:
                messages.append(sd.recv(4096).decode())
        except (TimeoutError, socket.timeout):
            pass
        return sum(what in m for m in messages)

    try:
        wait_http_ok(f"{base}/healthz", p, "service did not come up")
        r = wait_for(lambda: (r := httpx.get(f"{base}/readyz")).json()["camera_state"]["expo-1"]["reason"]
                     != "not opened yet" and r, 10, "no camera reason on /readyz")
        st = r.json()
        assert r.status_code == 503 and st["ready"] is False and st["cameras"] == {"expo-1": False}
        assert st["camera_state"]["expo-1"]["state"] == "reconnecting" and str(cam) in \
            st["camera_state"]["expo-1"]["reason"], st
        metrics = httpx.get(f"{base}/metrics").text
        assert 'traycheck_camera_up{camera="expo-1"} 0.0' in metrics
        assert 'traycheck_camera_state{camera="expo-1",state="reconnecting"} 1.0' in metrics
        c = httpx.Client(base_url=base)
        assert c.post("/login", data={"name": "max", "password": "manager-pw", "next": "/system"}).status_code \
            in (200, 303)
        page = c.get("/system").text
        assert "reconnecting since" in page and str(cam) in page
        wait_for(lambda: received("WATCHDOG=1") >= 3, 10, "the watchdog pings stopped while a camera is away")
        assert received("READY=1") == 1

        shutil.copy(FIXTURES / "lunch-rush" / "video.mp4", cam)
        r = wait_for(lambda: (r := httpx.get(f"{base}/readyz")).status_code == 200 and r, 10,
                     "not ready once the camera file exists")
        assert r.json()["camera_state"]["expo-1"]["state"] == "ok"
        metrics = httpx.get(f"{base}/metrics").text
        assert 'traycheck_camera_up{camera="expo-1"} 1.0' in metrics
        assert 'traycheck_camera_state{camera="expo-1",state="ok"} 1.0' in metrics
    finally:
        p.send_signal(signal.SIGTERM)
        err, _ = p.communicate(timeout=15)
        sd.close()
    assert p.returncode == 0
    assert "Traceback" not in err
    assert err.count("trying again until it is back") == 1, err  # once per outage, not once per retry


def test_doctor_returns_within_its_limit_on_dead_stream_cameras(tmp_path, cli):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    dead = free_port()
    cfg = tmp_path / "c.yaml"
    text = GOOD.format(data=tmp_path / "data", src=f"rtsp://127.0.0.1:{dead}/cam", port=8080)
    text = text.replace("http:", f"  - name: expo-2\n    source: http://127.0.0.1:{silent.getsockname()[1]}/x.ts\n"
                                 "http:", 1)
    cfg.write_text(text)
    try:
        t0 = time.monotonic()
        proc = cli("doctor", "--config", cfg, "--camera-timeout", "4", timeout=60)
        took = time.monotonic() - t0
    finally:
        silent.close()
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("FAIL") == 2 and "Traceback" not in proc.stderr
    assert "connection refused" in proc.stderr and "accepts connections but sent no video" in proc.stderr
    assert took < 4 + 20, took  # the cameras are checked side by side, beside the model and the rest
