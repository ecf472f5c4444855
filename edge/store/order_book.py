"""The orders' rows and their state machine: ``pending`` -> ``served`` | ``cancelled``.

A closed order stays closed (a late or repeated POS message never reopens it); the one
way back to ``pending`` is the pipeline revising its own guess (``edge.store.verdict_rows``).
Every function runs on the store's connection, inside the transaction and lock the
``Store`` holds around it.
"""
from __future__ import annotations

import sqlite3

from orders.models import Order


class OrderClosed(Exception):
    """An order re-sent after the box closed it (served, cancelled, expired, set aside): closed orders stay
    closed, so a late or repeated POS message can never queue a tray check against it again."""

    def __init__(self, order_id: str, status: str, reason: str | None):
        self.order_id, self.status, self.reason = order_id, status, reason
        super().__init__(f"order {order_id!r} is {self.state}: a closed order is not reopened "
                         "(send a new order id)")

    @property
    def state(self) -> str:
        """``served``, ``cancelled``, or the reason the box gave up on it (``expired: ...``)."""
        return self.reason or self.status


def _lines(conn: sqlite3.Connection, order_id: str) -> list[tuple[str, int]]:
    rows = conn.execute("SELECT sku, qty FROM order_lines WHERE order_id = ? ORDER BY line_no", [order_id])
    return [(r[0], r[1]) for r in rows.fetchall()]


def put_order(conn: sqlite3.Connection, order: Order, camera: str | None, source: str, now: str) -> bool:
    """Insert or update a pending order; False when nothing changed, ``OrderClosed`` when it is closed."""
    lines = [(line.sku, line.qty) for line in order.items]
    row = conn.execute("SELECT status, closed_reason FROM orders WHERE id = ?", [order.id]).fetchone()
    if row is not None and row[0] != "pending":
        raise OrderClosed(order.id, row[0], row[1])
    if row is not None and _lines(conn, order.id) == lines:
        return False
    if row is None:
        conn.execute("INSERT INTO orders (id, camera, received_at, updated_at, source) VALUES (?,?,?,?,?)",
                     [order.id, camera, now, now, source])
    else:
        conn.execute("UPDATE orders SET updated_at = ? WHERE id = ?", [now, order.id])
    conn.execute("DELETE FROM order_lines WHERE order_id = ?", [order.id])
    conn.executemany("INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (?,?,?,?)",
                     [(order.id, i, sku, qty) for i, (sku, qty) in enumerate(lines)])
    return True


def cancel_order(conn: sqlite3.Connection, order_id: str, now: str) -> bool:
    """The POS cancelled a pending order; False when it was not pending."""
    cur = conn.execute("UPDATE orders SET status = 'cancelled', updated_at = ? WHERE id = ? AND status = 'pending'",
                       [now, order_id])
    return cur.rowcount > 0


def close_order(conn: sqlite3.Connection, order_id: str, status: str, reason: str, now: str) -> bool:
    """A pending order left the box without a verdict naming it (``served`` or ``cancelled``, with the
    reason); False when it was not pending."""
    cur = conn.execute("UPDATE orders SET status = ?, closed_reason = ?, updated_at = ? "
                       "WHERE id = ? AND status = 'pending'", [status, reason, now, order_id])
    return cur.rowcount > 0


def order(conn: sqlite3.Connection, order_id: str) -> Order | None:
    """The stored order with its lines, or None when there is none."""
    lines = _lines(conn, order_id)
    if not lines:
        return None
    return Order(id=order_id, items=[{"sku": s, "qty": q} for s, q in lines])


def pending(conn: sqlite3.Connection, camera: str | None = None) -> list[tuple[Order, str | None]]:
    """The pending orders, oldest first, each with the camera it was routed to (None: any station). With
    a ``camera``, only those for it or for any station."""
    rows = conn.execute("SELECT id, camera FROM orders WHERE status = 'pending' "
                        "AND (? IS NULL OR camera IS NULL OR camera = ?) ORDER BY received_at, id",
                        [camera, camera]).fetchall()
    found = [(order(conn, r[0]), r[1]) for r in rows]
    return [(o, cam) for o, cam in found if o is not None]
