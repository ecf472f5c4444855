"""A full disk under the real service and a stored replay: every tray is still checked, no
verdict is lost, orders are refused with 503 while they cannot be stored, and everything is
stored (and published) once space returns."""
from __future__ import annotations

import json
import sqlite3
import subprocess


from tests.conftest import FIXTURES
from tests.disk_helpers import fill, stored_ids, wait_until  # small_fs: a fixture in conftest


# -- the real service, its disk filled while it checks trays ----------------------------------------
SERVICE = """\
site: faults
data_dir: {data}
cameras:
  - name: expo-1
    source: {src}
    speed: 1
http: {{listen: "127.0.0.1:{port}", api_token: tok}}
mqtt: {{host: 127.0.0.1, port: {mqtt}}}
retention: {{days: 30, min_free_mb: 0}}
"""


def _metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")
               or line.startswith(name + "{"))


def test_service_with_a_full_disk_loses_no_verdict_and_refuses_orders_with_503(small_fs, broker, tmp_path):
    """The issue's finding: data dir on a small tmpfs, filled while the service checks trays.
    Meanwhile: not ready (storage), POS 503, one log line per streak, no traceback; once the
    filler is gone: every verdict stored and published, 0 lost."""
    import signal
    import sys

    import httpx

    from tests.conftest import ROOT, wait_http_ok
    from tests.mqtt_helpers import Collector, free_port

    port = free_port()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SERVICE.format(data=small_fs, src=FIXTURES / "lunch-rush", port=port, mqtt=broker.port))
    collector = Collector(broker.port)
    log_path = tmp_path / "service.log"
    with open(log_path, "w") as log_file:
        p = subprocess.Popen([sys.executable, "-m", "edge", "run", "--config", str(cfg)], cwd=ROOT,
                             stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": "Bearer tok"}
    try:
        wait_http_ok(f"{base}/readyz", p, "service did not get ready", timeout=90)
        filler = fill(small_fs)
        # verdicts made while the disk is full wait in memory; the box says why it is not ready
        state = wait_until(lambda: (r := httpx.get(f"{base}/readyz", timeout=5)).status_code == 503 and r.json(),
                           60, "readyz stayed ready with a full disk")
        assert not state["ready"] and "full" in state["storage"], state
        wait_until(lambda: _metric(httpx.get(f"{base}/metrics", timeout=5).text, "traycheck_verdicts_unstored") >= 3,
                   60, "fewer than 3 verdicts were made while the disk was full")
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert _metric(metrics, "traycheck_storage_ok") == 0
        r = httpx.post(f"{base}/api/orders", json={"id": "900", "items": [{"sku": "WRAP", "qty": 1}] * 50},
                       headers=auth, timeout=10)
        assert r.status_code == 503 and "not stored" in r.json()["detail"], r.text
        filler.unlink()
        wait_until(lambda: httpx.get(f"{base}/readyz", timeout=5).status_code == 200, 30,
                   "not ready again after space returned")
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert _metric(metrics, "traycheck_storage_ok") == 1 and _metric(metrics, "traycheck_verdicts_dropped") == 0
        assert httpx.post(f"{base}/api/orders", json={"id": "900", "items": [{"sku": "WRAP"}]}, headers=auth,
                          timeout=10).json()["stored"] is True
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    log_text = log_path.read_text()
    assert "Traceback" not in log_text, log_text[-3000:]
    storage_lines = [line for line in log_text.splitlines() if "storage:" in line]
    assert 1 <= len(storage_lines) <= 3, storage_lines  # once per streak, not once per verdict
    summary = next(line for line in log_text.splitlines() if "verdicts made" in line)
    made = int(summary.split("stopping: ")[1].split()[0])
    assert f"{made} verdicts made, {made} stored, 0 unstored, 0 dropped" in summary, summary
    conn = sqlite3.connect(small_fs / "traycheck.db")
    try:
        assert conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == made >= 3
        ids = {r[0] for r in conn.execute("SELECT id FROM verdicts")}
        assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0  # everything was delivered
    finally:
        conn.close()
    published = {d["id"] for d in collector.wait_for(made, "/verdict", timeout=20)}
    health = [json.loads(text) for topic, text in list(collector.messages) if topic == "traycheck/faults/health"]
    collector.stop()
    # one MQTT state message per change: ok, then storage failing, then ok again
    assert [h["state"] for h in health][-3:] == ["ok", "degraded", "ok"], health
    assert health[-2]["problems"][0]["kind"] == "storage" and "full" in health[-2]["problems"][0]["detail"]
    assert published == ids  # every verdict stored is published once space returned: 0 lost


def test_a_replay_whose_disk_fills_checks_every_tray_and_stores_everything_once_space_returns(small_fs, tmp_path):
    """The issue's finding: the data dir on a small tmpfs, full from the first POS order on. The camera
    never writes the database, so the shift goes on; orders and verdicts wait in the recorder and are
    all stored once space returns (the old code ended the replay after one verdict)."""
    import sys

    from tests.conftest import ROOT

    data = small_fs / "data"
    out = tmp_path / "verdicts.jsonl"
    # as fast as it goes (every frame, none dropped): the same writes as real time, in 20 s, not 150
    p = subprocess.Popen([sys.executable, "-m", "edge", "replay", str(FIXTURES / "lunch-rush"), "--data-dir",
                          str(data), "--verdicts", str(out), "--speed", "max"],
                         cwd=ROOT, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: (data / "traycheck.db").exists() or p.poll() is not None, 60, "the replay never started")
    filler = fill(small_fs)
    lines = []
    for line in p.stderr:  # wait for the event: the first write the full disk refused
        lines.append(line)
        if "disk is full" in line:
            break
    filler.unlink()
    _, rest = p.communicate(timeout=600)
    log = "".join(lines) + rest
    assert p.returncode == 0, log[-3000:]
    assert any("disk is full" in x for x in lines), log[-3000:]
    made = [json.loads(x) for x in out.read_text().splitlines()]
    trays = {v["tray"] for v in made}
    truth = (FIXTURES / "lunch-rush" / "truth.jsonl").read_text().splitlines()
    assert len(trays) >= len(truth), f"{len(trays)} trays checked of {len(truth)}"
    assert sorted(stored_ids(data / "traycheck.db")) == sorted(v["id"] for v in made)  # every verdict stored
    conn = sqlite3.connect(data / "traycheck.db")
    try:
        orders = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    finally:
        conn.close()
    pos = [x for x in (FIXTURES / "lunch-rush" / "pos.jsonl").read_text().splitlines() if '"order"' in x]
    assert orders == len(pos)
