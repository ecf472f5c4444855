"""Camera health in the appliance: the retained MQTT state (real broker), the Prometheus
gauges, the reference view kept in the data directory, and ``traycheck camera calibrate``."""
from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import generate_latest

from conftest import FIXTURES
from edge.pipeline.reference_view import reference_path
from edge.sources.frame import Frame
from health_helpers import covered, idle, write_fault_shift
from mqtt_helpers import Collector, wait_until
from test_cli import appliance_config


def test_camera_health_is_retained_on_mqtt_and_the_latest_state_wins(tmp_path, broker, cli):
    shift = write_fault_shift(tmp_path / "shift", cover_from=8.0, cover_to=24.0, end=32.0)
    sub = Collector(broker.port, topic="traycheck/s1/expo-1/health", client_id="health-watcher")
    # at 4x real time each state stays a few seconds; a state only the broker missed would be
    # replaced by the next one (retained state: the latest wins), so the start may already be ok
    r = cli("replay", shift, "--speed", "4", "--data-dir", tmp_path / "data", "--site", "s1",
            "--mqtt", f"mqtt://127.0.0.1:{broker.port}", "--health", tmp_path / "health.jsonl")
    assert r.returncode == 0, r.stderr
    logged = [json.loads(x) for x in (tmp_path / "health.jsonl").read_text().splitlines()]
    assert [x["state"] for x in logged] == ["ok", "fault", "ok"]  # the stored replay writes --health too
    assert wait_until(lambda: json.loads(sub.messages[-1][1])["t"] > 24.0 if sub.messages else False, 30)
    got = [json.loads(m) for _, m in sub.messages]
    states = [g["state"] for g in got]
    assert states[-2:] == ["fault", "ok"] and set(states[:-2]) <= {"ok"}, states
    fault = got[-2]
    assert fault["schema"] == 1 and fault["camera"] == "expo-1" and fault["at"].endswith("+00:00")
    assert fault["checks"]["covered"]["state"] == "fault" and "% of the view is uniform" in \
        fault["checks"]["covered"]["reason"] and 8.0 <= fault["checks"]["covered"]["since"] <= 10.0
    assert 8.0 <= fault["t"] <= 8.0 + 15 and 24.0 <= got[-1]["t"] <= 24.0 + 15
    sub.stop()
    late = Collector(broker.port, topic="traycheck/s1/expo-1/health", client_id="late-joiner")
    assert wait_until(lambda: late.messages, 30)
    assert json.loads(late.messages[-1][1])["state"] == "ok"  # retained: a newcomer sees the state now
    late.stop()


def frames(images, t0: float, fps: float = 15.0):
    for i, img in enumerate(images):
        yield Frame(int(t0 * fps) + i, t0 + i / fps, img)


def test_gauges_follow_the_checks_and_the_reference_is_kept_in_the_data_dir(tmp_path):
    from detectors.loader import load_detector
    from edge.app.config import load_config
    from edge.app.service import Service

    cfg = load_config(appliance_config(tmp_path))
    detector = load_detector(None, "fp32", threads=1)
    svc = Service(cfg, detector=detector, serve_http=False, restore_orders=False)
    pipe = svc.workers[0].pipeline

    def gauge(check: str) -> float:
        text = generate_latest(svc.registry).decode()
        line = next(x for x in text.splitlines()
                    if x.startswith(f'traycheck_camera_health{{camera="expo-1",check="{check}"}}'))
        return float(line.split()[-1])

    assert gauge("covered") == 0.0 and gauge("no_frames") == 0.0
    for f in frames([idle(i) for i in range(100)], 0.0):
        pipe.process(f)
    stored = reference_path(Path(cfg.data_dir), "expo-1")
    assert stored.is_file()  # learned from the first idle seconds, kept for the next start
    for f in frames([covered(idle(i % 100), 0.9, seed=i) for i in range(12 * 15)], 100 / 15):
        pipe.process(f)
    assert gauge("covered") == 2.0 and gauge("dark") == 0.0
    assert svc.ready()["camera_health"]["expo-1"]["checks"]["covered"]["state"] == "fault"
    svc.stop()
    again = Service(cfg, detector=detector, serve_http=False, restore_orders=False)
    assert again.workers[0].pipeline.health.reference is not None  # loaded at start: nothing to learn
    again.stop()


def test_calibrate_stores_the_reference_and_names_an_unknown_camera(tmp_path, cli):
    cfg = appliance_config(tmp_path, cameras=f"cameras:\n  - name: expo-1\n    source: "
                                             f"{FIXTURES / 'dim-evening' / 'video.mp4'}")
    r = cli("camera", "calibrate", "expo-1", "--config", cfg, "--seconds", "1")
    assert r.returncode == 0, r.stderr
    assert reference_path(tmp_path / "data", "expo-1").is_file() and "keypoints" in r.stdout + r.stderr
    r = cli("camera", "calibrate", "expo-9", "--config", cfg)
    assert r.returncode == 2 and "camera 'expo-9': not in" in r.stderr and "Traceback" not in r.stderr


def test_only_a_manager_with_the_csrf_token_refreshes_a_reference(tmp_path):
    import re

    from fastapi.testclient import TestClient

    from security_helpers import build

    app, store = build(tmp_path)
    with TestClient(app, follow_redirects=False) as client:
        assert client.post("/login", data={"name": "vera", "password": "viewer-pw"}).status_code == 303
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/alerts").text).group(1)
        r = client.post("/system/cameras/expo-1/reference", data={"csrf": csrf})
        assert r.status_code == 403 and "managers only" in r.text
        client.post("/logout", data={"csrf": csrf})
        assert client.post("/login", data={"name": "max", "password": "manager-pw"}).status_code == 303
        assert client.post("/system/cameras/expo-1/reference").status_code == 403  # no CSRF token
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/alerts").text).group(1)
        r = client.post("/system/cameras/expo-1/reference", data={"csrf": csrf})
        assert r.status_code == 404 and "not running here" in r.text  # no camera in this process
    store.close()
