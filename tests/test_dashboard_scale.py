"""Dashboard pages on a month of a busy restaurant (60 000 trays seeded into a real database) do no more
work than on 3 days of it, so they do not slow down as the database fills. Checked on what the pages
ask SQLite, not on a stopwatch (speed is measured by `traycheck bench`; this machine is shared):

* every statement a page runs is served by an index (EXPLAIN QUERY PLAN: no table scan; an index walk
  only under a LIMIT);
* a page runs as many statements on the month as on 3 days, and SQLite's work for it (virtual-machine
  steps, counted by a progress handler: deterministic) does not grow with the stored trays."""
from __future__ import annotations

import json
import random
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from conftest import ROOT
from edge.store.store import Store
from edge.store.transaction import transaction
from edge.store.users import Users
from edge.web.app import create_app
from edge.web.dashboard import Dashboard
from edge.web.server import WebServer
from mqtt_helpers import free_port
from orders.menu import Menu

pytestmark = pytest.mark.slow

TRAYS_PER_DAY = 2_000  # a busy restaurant, two stations
FEW_DAYS, MONTH = 3, 30
STEP = 10  # SQLite virtual-machine instructions per progress-handler call
GROWTH = 1.25  # a page may do this much more work on the month (deeper B-trees), plus a little slack
SLACK_STEPS = 500
NOT_SQL = ("PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
# Reader.cameras(), the camera list on every page: once a DISTINCT that walked every tray's index entry.
CAMERAS = "WITH RECURSIVE cams"


def seed(store: Store, n: int, days: int) -> None:
    """n trays (orders, verdicts, alerts for the 8 % mismatches) spread evenly over the last ``days``."""
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    step = timedelta(days=days) / n
    cams = ["expo-1", "expo-2"]
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    orders, lines, trays, verdicts, alerts = [], [], [], [], []
    for i in range(n):
        at = (now - timedelta(days=days) + i * step).strftime(fmt)
        oid = str(100000 + i)
        cam = cams[i % 2]
        mismatch = rng.random() < 0.08
        seen = {"burger": 1, "fries": 1 if not mismatch else 0, "drink": 1}
        orders.append((oid, cam, "served" if i < n - 30 else "pending", at, at, "api"))
        lines.append((oid, 1, "BURGER_MEAL", 1))
        trays.append((i + 1, cam, "run:seed", i + 1, oid, 3.0, "mismatch" if mismatch else "ok", json.dumps(seen),
                      json.dumps({"burger": 1, "fries": 1, "drink": 1}), None, at, at))
        rec = {"id": f"v{i}", "camera": cam, "order_id": oid, "verdict": "mismatch" if mismatch else "ok",
               "missing": {"fries": 1} if mismatch else {}, "extra": {}, "video_t": 3.0, "at": at}
        verdicts.append((f"v{i}", i + 1, cam, oid, rec["verdict"], 3.0, at, 0.9, json.dumps(rec)))
        if mismatch:
            state = "open" if i > n - 200 else rng.choice(["acknowledged", "resolved"])
            alerts.append((i + 1, cam, oid, state, at, None if state == "open" else at, "seed",
                           json.dumps({"missing": {"fries": 1}, "extra": {}})))
    db = store.db
    with transaction(db):
        db.executemany("INSERT INTO orders (id, camera, status, received_at, updated_at, source) VALUES (?,?,?,?,?,?)",
                       orders)
        db.executemany("INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (?,?,?,?)", lines)
        db.executemany("INSERT INTO trays (id, camera, run, seq, order_id, rest_t, verdict, seen, expected, snapshot, "
                       "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", trays)
        db.executemany("INSERT INTO verdicts (id, tray_id, camera, order_id, verdict, video_t, at, confidence, "
                       "record) VALUES (?,?,?,?,?,?,?,?,?)", verdicts)
        db.executemany("INSERT INTO alerts (tray_id, camera, order_id, state, opened_at, closed_at, closed_by, "
                       "detail) VALUES (?,?,?,?,?,?,?,?)", alerts)


def pages(n: int) -> list[str]:
    day = (datetime.now(timezone.utc) - timedelta(days=2)).strftime("%Y-%m-%d")
    return ["/live", "/alerts", "/alerts?state=all", "/alerts?state=resolved&camera=expo-2", "/orders",
            "/orders?sort=oldest", "/trays", "/trays?camera=expo-1", f"/trays?q={100000 + n // 2}",
            f"/trays/{n // 2}", "/report", f"/report?day={day}", f"/report.csv?day={day}", "/system", "/docs"]


class SqlTrace:
    """The statements every connection opened while it is installed runs, each with the virtual-machine
    steps it took. One request at a time: its statements run one after another, so the steps counted
    between two statements belong to the first."""

    def __init__(self) -> None:
        self.statements: list[list] = []  # [sql, steps]

    def wrap(self, connect):
        def traced(*args, **kwargs) -> sqlite3.Connection:
            conn = connect(*args, **kwargs)
            conn.set_trace_callback(lambda sql: self.statements.append([sql, 0]))
            conn.set_progress_handler(self._step, STEP)
            return conn
        return traced

    def _step(self) -> int:
        if self.statements:
            self.statements[-1][1] += STEP
        return 0  # go on

    def take(self) -> list[tuple[str, int]]:
        taken, self.statements = self.statements, []
        return [(sql, steps) for sql, steps in taken if not sql.lstrip().upper().startswith(NOT_SQL)]


def measure(tmp: Path, days: int) -> dict:
    """Seed ``days`` of trays, serve the dashboard over real HTTP, and trace each page's second visit."""
    n = days * TRAYS_PER_DAY
    store = Store(tmp / "traycheck.db", outbox=False)
    seed(store, n, days)
    Users(store.db).add("max", "manager", "manager-pw")
    trace, found = SqlTrace(), {}
    with pytest.MonkeyPatch.context() as mp:  # the web's connections are opened per thread, on first use
        mp.setattr(sqlite3, "connect", trace.wrap(sqlite3.connect))
        port = free_port()
        web = WebServer(create_app(store, "t", Menu(), dashboard=Dashboard(store, tmp, site="t")), "127.0.0.1", port)
        web.start()
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
                assert c.post("/login", data={"name": "max", "password": "manager-pw"}).status_code in (200, 303)
                for path in pages(n):
                    c.get(path)  # first visit: the thread's connection, caches
                    trace.take()
                    r = c.get(path)
                    assert r.status_code == 200, (path, r.status_code, r.text[:200])
                    found[path] = {"text": r.text, "sql": trace.take()}
        finally:
            web.stop()
            store.close()
    return {"db": store.path, "pages": found}


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict[int, dict]:
    runs = {days: measure(tmp_path_factory.mktemp(f"days{days}"), days) for days in (FEW_DAYS, MONTH)}
    out = ROOT / "out" / "test-artifacts" / "dashboard"
    out.mkdir(parents=True, exist_ok=True)
    (out / "page-work.json").write_text(json.dumps({
        f"{days} days": {p: sum(s for _, s in m["sql"]) for p, m in run["pages"].items()}
        for days, run in runs.items()}, indent=1))
    return runs


def work(page: dict) -> tuple[int, int]:
    """(statements, steps) of a page."""
    return len(page["sql"]), sum(s for _, s in page["sql"])


def test_every_page_answers_on_a_month_of_trays(measured):
    month = measured[MONTH]
    assert month["db"].stat().st_size > 10_000_000  # the seed really is a month of a busy restaurant
    assert "trays checked" in month["pages"]["/report"]["text"]
    for path, page in month["pages"].items():
        assert page["sql"], f"{path}: no statement traced (a connection opened outside the trace?)"


def test_every_statement_a_page_runs_is_served_by_an_index(measured):
    month = measured[MONTH]
    bad = []
    with sqlite3.connect(month["db"]) as conn:
        for path, page in month["pages"].items():
            for sql, _ in page["sql"]:
                ctes = re.findall(r"(?:WITH RECURSIVE|,)\s*(\w+)\s*\(\w+\)\s*AS", sql)  # a CTE is not a table
                for *_, detail in conn.execute("EXPLAIN QUERY PLAN " + sql):
                    scan = re.match(r"SCAN (?!CONSTANT ROW)(\w+)", detail)
                    if scan and scan.group(1) in ctes:
                        continue
                    if scan and not ("USING" in detail and re.search(r"\bLIMIT\b", sql, re.IGNORECASE)):
                        bad.append(f"{path}: {detail}: {sql[:160]}")
    assert not bad, "statements that read a whole table (or a whole index):\n" + "\n".join(bad)


def test_page_work_does_not_grow_with_the_stored_trays(measured):
    few, month = measured[FEW_DAYS]["pages"], measured[MONTH]["pages"]
    grown = []
    for (path, a), b in zip(few.items(), month.values()):
        (na, sa), (nb, sb) = work(a), work(b)
        if nb != na or sb > sa * GROWTH + SLACK_STEPS:
            grown.append(f"{path}: {na} statements, {sa} steps on {FEW_DAYS} days; {nb}, {sb} on {MONTH} days")
    assert not grown, "pages whose SQL grows with the stored trays:\n" + "\n".join(grown)
    assert all(work(p)[1] > 0 for p in month.values())  # the counter counted


def test_the_camera_list_seeks_each_camera_instead_of_walking_every_tray(measured):
    """A month of trays holds 60 000 index entries for 2 cameras: the list's work stays that of 3 days."""
    def camera_list(days: int) -> tuple[int, str]:
        page = measured[days]["pages"]["/live"]
        steps = [s for q, s in page["sql"] if q.strip().startswith(CAMERAS)]
        assert steps, page["sql"]  # the page asked for the list
        return max(steps), page["text"]
    (few, few_text), (month, month_text) = camera_list(FEW_DAYS), camera_list(MONTH)
    assert "expo-1" in few_text and "expo-2" in few_text
    assert month <= few * GROWTH + SLACK_STEPS, (few, month)
    assert "expo-1" in month_text and "expo-2" in month_text
