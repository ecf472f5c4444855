"""A camera whose pipeline fails on every frame is ``failed``, with the exception's one-line
reason, on every health surface (/readyz, /metrics, the retained MQTT health, the dashboard's
camera state), and ``ok`` again by itself once frames pass: a real service, a real broker."""
from __future__ import annotations

import json
import threading

import httpx

from detectors.loader import load_detector
from edge.app.config import load_config
from edge.app.service import Service
from mqtt_helpers import Collector, wait_until
from test_cli import appliance_config


class BreakableDetector:
    """The real detector, made to raise while ``broken`` is set (a model that throws on every frame)."""

    def __init__(self, inner):
        self.inner = inner
        self.broken = threading.Event()

    def detect(self, image):
        if self.broken.is_set():
            raise RuntimeError("output 0 has shape (1, 7, 2016): expected 12 values per box")
        return self.inner.detect(image)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def surfaces(svc: Service, base: str, health: Collector) -> dict[str, str]:
    """The camera's state as each surface reports it."""
    ready = httpx.get(f"{base}/readyz", timeout=5).json()["camera_state"]["expo-1"]
    metrics = httpx.get(f"{base}/metrics", timeout=5).text
    failed = 'traycheck_camera_state{camera="expo-1",state="failed"} 1.0' in metrics
    mqtt = json.loads(health.messages[-1][1]) if health.messages else {"problems": []}
    cam = [p["detail"] for p in mqtt["problems"] if p.get("camera") == "expo-1"]
    return {"readyz": f"{ready['state']}: {ready['reason']}", "metrics": "failed" if failed else "ok",
            "mqtt": cam[0] if cam else "ok", "dashboard": (svc.workers.state("expo-1") or {})["state"]}


def test_a_pipeline_failing_on_every_frame_is_failed_everywhere_and_recovers(tmp_path, broker):
    cfg = load_config(appliance_config(tmp_path, site="site: s1",
                                       mqtt=f"mqtt: {{host: 127.0.0.1, port: {broker.port}}}"))
    det = BreakableDetector(load_detector(None, "fp32", threads=1))
    svc = Service(cfg, detector=det, restore_orders=False)
    health = Collector(broker.port, topic="traycheck/s1/health", client_id="health-watcher")
    base = f"http://{cfg.http.listen}"
    svc.start()
    main = threading.Thread(target=svc.wait)
    main.start()
    try:
        assert wait_until(lambda: svc.workers[0].state()["state"] == "ok", 60), svc.workers[0].state()
        det.broken.set()
        assert wait_until(lambda: all(v.startswith("failed") for v in surfaces(svc, base, health).values()), 5), \
            surfaces(svc, base, health)
        got = surfaces(svc, base, health)
        for where in ("readyz", "mqtt"):
            assert "the pipeline fails on every frame (RuntimeError: output 0 has shape" in got[where], got
        assert not svc.healthy(stall_s=0.0)  # past the stall limit the watchdog is no longer fed
        det.broken.clear()
        assert wait_until(lambda: all(v.startswith("ok") for v in surfaces(svc, base, health).values()), 5), \
            surfaces(svc, base, health)
        assert svc.healthy()
    finally:
        svc.request_stop()
        main.join(30)
        svc.stop()
        health.stop()
