"""Typed kinds (verdicts, tray events, association methods): enum members in the code,
the contract's strings everywhere they leave it (JSON records, SQLite rows)."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from edge.pipeline.tray import TrayEvent, TrayEventKind
from edge.pipeline.verdicts import Association, Verdict, VerdictKind
from edge.store.store import Store

pytestmark = pytest.mark.quick

# What ``json.dumps(Verdict(...).record())`` gave for these verdicts when kinds were bare strings.
BEFORE = [
    '{"schema": 1, "id": "f0a5665c4731f444", "camera": "expo-1", "order_id": "A17", "verdict": "mismatch", '
    '"missing": {"fries": 1}, "extra": {"cola": 1}, "video_t": 12.5, "at": "2025-11-26T03:00:00Z", '
    '"at_unix": 1764126000.25, "confidence": 0.912, "seen": {"burger": 1, "cola": 1}, '
    '"expected": {"burger": 1, "fries": 1}, "rest_t": 11.75, "association": "qr", "tray": 3}',
    '{"schema": 1, "id": "abc85e86b95c679a", "camera": "expo-2", "order_id": null, "verdict": "no_order", '
    '"missing": {}, "extra": {}, "video_t": 3.0, "at": "2025-11-26T03:00:00Z", "at_unix": 1764126000.0, '
    '"confidence": 0.0, "seen": {}, "expected": {}, "rest_t": null, "association": "qr-unknown", "tray": 1}',
]


def _samples() -> list[Verdict]:
    return [
        Verdict(camera="expo-1", order_id="A17", verdict=VerdictKind.MISMATCH, missing={"fries": 1},
                extra={"cola": 1}, video_t=12.5, tray_seq=3, at_unix=1764126000.25, confidence=0.91234,
                seen={"burger": 1, "cola": 1}, expected={"burger": 1, "fries": 1}, rest_t=11.75,
                association=Association.QR, run="shift-a"),
        Verdict(camera="expo-2", order_id=None, verdict=VerdictKind.NO_ORDER, missing={}, extra={}, video_t=3.0,
                tray_seq=1, at_unix=1764126000.0, association=Association.QR_UNKNOWN, run="r"),
    ]


def test_a_verdict_record_serialises_byte_identical_to_the_bare_string_one():
    for v, before in zip(_samples(), BEFORE):
        assert json.dumps(v.record()) == before  # id included: the kind's string is part of the id's key


def test_contract_strings_are_accepted_and_become_members_anything_else_is_refused():
    v = Verdict(camera="c", order_id=None, verdict="resolved", missing={}, extra={}, video_t=1.0, tray_seq=1,
                association="fifo")
    assert v.verdict is VerdictKind.RESOLVED and v.association is Association.FIFO
    assert v.record()["verdict"] == "resolved" and type(json.loads(json.dumps(v.record()))["verdict"]) is str
    with pytest.raises(ValueError, match="'fine' is not a valid VerdictKind"):
        Verdict(camera="c", order_id=None, verdict="fine", missing={}, extra={}, video_t=1.0, tray_seq=1)
    assert TrayEvent("left", 2.0).kind is TrayEventKind.LEFT
    with pytest.raises(ValueError):
        TrayEvent("gone", 2.0)


def test_contract_strings_of_every_kind():
    assert [k.value for k in VerdictKind] == ["ok", "mismatch", "resolved", "no_order"]
    assert [a.value for a in Association] == ["qr", "fifo", "qr-unknown", "none"]
    assert [k.value for k in TrayEventKind] == ["arrived", "rest", "counts", "changed", "left"]


def test_kinds_are_stored_as_plain_text_and_read_back_as_strings_that_equal_the_members(tmp_path: Path):
    store = Store(tmp_path / "traycheck.db", site="site", outbox=False)
    try:
        v = _samples()[0]
        assert store.record_verdict(v.record(), v.run)
    finally:
        store.close()
    conn = sqlite3.connect(tmp_path / "traycheck.db")
    try:
        row = conn.execute("SELECT verdict, typeof(verdict), record FROM verdicts").fetchone()
        alert = conn.execute("SELECT state FROM alerts").fetchone()
    finally:
        conn.close()
    assert row[:2] == ("mismatch", "text") and row[0] == VerdictKind.MISMATCH
    assert json.loads(row[2])["association"] == Association.QR
    assert alert == ("open",)  # the store's own "mismatch" check still sees the kind
