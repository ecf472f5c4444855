"""The appliance process and its configuration."""
from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from edge.config import load_config
from edge.errors import UserError
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
    with pytest.raises(UserError) as err:
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
                     "traycheck_storage_free_bytes", "traycheck_camera_fps"):
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
        bad = tmp_path / "bad.yaml"
        bad.write_text(text.replace(str(FIXTURES / "lunch-rush"), str(tmp_path / "nothing.mp4"))
                       + f"mqtt: {{host: 127.0.0.1, port: {broker.port + 1 if broker.port < 65535 else 1}}}\n")
        proc = cli("doctor", "--config", bad)
        assert proc.returncode == 1
        assert proc.stderr.count("FAIL") == 2 and "nothing.mp4" in proc.stderr
    finally:
        broker.stop()
