"""The MQTT outbox: messages written in the same transaction as the rows they report, removed
once the broker acknowledged them, so that a crash neither loses nor invents one."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class OutboxMessage:
    seq: int
    msg_id: str
    topic: str
    payload: str
    qos: int
    retain: bool


def enqueue(conn: sqlite3.Connection, msg_id: str, topic: str, payload: dict, now: str, retain: bool = False) -> None:
    """Queue one message (QoS 1); a ``msg_id`` queued before is left as it is."""
    body = json.dumps(dict(payload, msg_id=msg_id), sort_keys=True)
    conn.execute("INSERT OR IGNORE INTO outbox (msg_id, topic, payload, qos, retain, created_at) "
                 "VALUES (?,?,?,?,?,?)", [msg_id, topic, body, 1, int(retain), now])


def oldest(conn: sqlite3.Connection, limit: int) -> list[OutboxMessage]:
    """The first ``limit`` messages, in the order they were queued."""
    rows = conn.execute("SELECT seq, msg_id, topic, payload, qos, retain FROM outbox ORDER BY seq LIMIT ?",
                        [limit]).fetchall()
    return [OutboxMessage(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]


def length(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


def remove(conn: sqlite3.Connection, msg_ids: Iterable[str]) -> None:
    """Drop the messages the broker acknowledged."""
    conn.executemany("DELETE FROM outbox WHERE msg_id = ?", [(m,) for m in msg_ids])
