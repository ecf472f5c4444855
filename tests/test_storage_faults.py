"""Storage faults with the real thing: a data directory on a small tmpfs that the test fills
(ENOSPC), under the real recorder, store and service. Nothing made
while storage fails may be lost: it waits in memory, the box says it is not ready, and
everything is stored (and published) once space returns."""
from __future__ import annotations


import logging
import time
from pathlib import Path

import cv2
import pytest

from tests.conftest import FIXTURES


from tests.disk_helpers import fill, stored_ids, wait_until  # small_fs: a fixture in conftest

pytestmark = pytest.mark.quick


# -- the recorder and the store, in process --------------------------------------------------------
@pytest.fixture(scope="module")
def pipe():
    """A real pipeline (only its frame, zone and classes are used) showing a real fixture frame."""
    from detectors.loader import load_detector
    from edge.sources.capture import Frame
    from edge.pipeline.camera import CameraPipeline
    from orders.menu import load_menu
    from orders.queue import OrderQueue

    cap = cv2.VideoCapture(str(FIXTURES / "lunch-rush" / "video.mp4"))
    ok, img = cap.read()
    cap.release()
    assert ok
    p = CameraPipeline("expo-1", load_detector(None, "fp32", threads=1), load_menu(None), OrderQueue(),
                       lambda v, p: None)
    p.last_frame = Frame(0, 1.0, img)
    return p


def verdicts(n: int, start: int = 0) -> list:
    from edge.pipeline.verdicts import Verdict

    return [Verdict(camera="expo-1", order_id=None, verdict="mismatch" if i % 3 == 0 else "no_order",
                    missing={"burger": 1} if i % 3 == 0 else {}, extra={}, video_t=float(i), tray_seq=i + 1,
                    seen={"fries": 1}, run="faults") for i in range(start, start + n)]


def _recorder(fs: Path, **kw):
    from edge.app.recorder import Recorder
    from edge.store.snapshots import SnapshotWriter
    from edge.store.store import Store

    store = Store(fs / "traycheck.db", site="faults", outbox=True)
    return Recorder(store, SnapshotWriter(fs / "snapshots", min_free_mb=0), None, "faults", retry_max_s=0.5,
                    **kw), store


def test_full_disk_keeps_every_verdict_in_memory_and_stores_them_in_order_when_space_returns(
        small_fs, pipe, caplog):
    caplog.set_level(logging.INFO)
    problems: list = []
    rec, store = _recorder(small_fs, on_problem=problems.append)
    first = verdicts(3)
    for v in first:
        rec(v, pipe)
    assert rec.flush(20) and rec.problem is None
    filler = fill(small_fs)
    made = verdicts(40, start=3)
    slowest = 0.0
    for v in made:  # the camera thread: never blocks, never raises
        t0 = time.perf_counter()
        rec(v, pipe)
        slowest = max(slowest, time.perf_counter() - t0)
    assert slowest < 0.2, f"handing a verdict over took {slowest:.3f} s"
    wait_until(lambda: rec.problem, 20, "no storage problem raised on a full disk")
    assert "full" in rec.problem, rec.problem
    assert rec.pending > 0
    wait_until(lambda: rec.pending == len(made), 20, "the snapshot-less verdicts were not all queued")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and not any(r.exc_info for r in errors), [r.getMessage() for r in errors]
    filler.unlink()
    assert rec.flush(30), f"{rec.pending} verdicts still not stored after space returned"
    assert rec.problem is None and problems[-1] is None and any(problems)
    assert stored_ids(small_fs / "traycheck.db") == [v.id for v in first + made]  # all of them, in order
    assert rec.dropped == 0 and rec.stored == len(first + made)
    assert store.outbox_len() >= len(first + made)  # and each has its MQTT message waiting
    assert rec.close(5)
    store.close()


def test_memory_queue_is_bounded_keeps_the_oldest_and_counts_the_rest(small_fs, pipe):
    rec, store = _recorder(small_fs, max_pending=10)
    filler = fill(small_fs)
    made = verdicts(15)
    for v in made:
        rec(v, pipe)
    assert rec.dropped == 5 and rec.pending <= 10
    assert "the memory queue is full (10): 5 verdicts dropped" in rec.problem  # health says so, not only a log
    filler.unlink()
    assert rec.flush(30)
    assert stored_ids(small_fs / "traycheck.db") == [v.id for v in made[:10]]  # the oldest were kept
    rec.close(5)
    store.close()


def test_a_schema_error_sets_the_verdict_aside_clears_the_problem_and_the_next_verdicts_are_stored(
        tmp_path, pipe, caplog):
    """``no such column`` is the program's or the schema's fault, not the disk's: retried a few times,
    then the verdict is set aside (logged in full) and the queue goes on, instead of every later
    verdict waiting forever behind it."""
    rec, store = _recorder(tmp_path)
    first, later = verdicts(1), verdicts(2, start=1)
    store.db.execute("ALTER TABLE verdicts RENAME COLUMN confidence TO confidence_old")  # a broken schema
    rec(first[0], pipe)
    wait_until(lambda: rec.set_aside == 1, 30, "the verdict was never set aside")
    assert rec.problem is None  # storage itself works: the queue moved on
    store.db.execute("ALTER TABLE verdicts RENAME COLUMN confidence_old TO confidence")
    for v in later:
        rec(v, pipe)
    assert rec.flush(20) and stored_ids(tmp_path / "traycheck.db") == [v.id for v in later]
    assert any("set aside after 5 tries (not a storage fault)" in r.getMessage() and first[0].id in r.getMessage()
               for r in caplog.records)
    rec.close(5)
    store.close()


def test_close_logs_what_could_not_be_stored(small_fs, pipe, caplog):
    rec, store = _recorder(small_fs)
    fill(small_fs)
    made = verdicts(3)
    for v in made:
        rec(v, pipe)
    assert not rec.close(1.0)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert all(v.id in logged for v in made)  # the journal keeps them
    store.close()


def test_pos_api_answers_503_while_orders_cannot_be_stored(small_fs):
    import httpx

    from edge.store.store import Store
    from edge.web.app import create_app
    from edge.web.server import WebServer
    from orders.menu import Menu
    from tests.mqtt_helpers import free_port

    store = Store(small_fs / "traycheck.db")
    routed: list = []
    app = create_app(store, "tok", Menu(), on_order=lambda o, cam: routed.append(o.id))
    port = free_port()
    server = WebServer(app, "127.0.0.1", port)
    server.start()
    auth = {"Authorization": "Bearer tok"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, headers=auth) as c:
            assert c.post("/api/orders", json={"id": "1", "items": [{"sku": "WRAP"}]}).json()["stored"] is True
            filler = fill(small_fs)
            r = c.post("/api/orders", json={"id": "2", "items": [{"sku": "WRAP", "qty": 2}] * 50})
            assert r.status_code == 503, r.text
            assert "storage unavailable" in r.json()["detail"] and "order '2' was not stored" in r.json()["detail"]
            assert r.headers.get("retry-after") == "5"
            r = c.delete("/api/orders/1")
            assert r.status_code == 503 and "not stored" in r.json()["detail"], r.text
            assert routed == ["1"]  # the refused order went nowhere
            filler.unlink()
            assert c.post("/api/orders", json={"id": "2", "items": [{"sku": "WRAP"}]}).json()["stored"] is True
            assert c.delete("/api/orders/1").json()["cancelled"] is True
            assert [o.id for o in store.pending_orders()] == ["2"]
    finally:
        server.stop()
        store.close()
