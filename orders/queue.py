"""Pending POS orders at one station, in arrival order, and tray association.

A tray is associated with the order whose number its ticket shows; without a
readable ticket, with the oldest pending order (first in, first out). Orders
are idempotent by id: sending the same order again changes nothing, an update
replaces its lines and keeps its place in the queue, a cancel removes it.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from orders.models import Order


@dataclass(frozen=True)
class PendingOrder:
    order: Order
    received_t: float  # stream time the order reached the box


class OrderQueue:
    """Thread-safe: the POS API and the camera pipeline use it from different threads."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, PendingOrder] = OrderedDict()
        self._done: set[str] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, order_id: str) -> bool:
        return order_id in self._pending

    def add(self, order: Order, t: float) -> bool:
        """Add or update an order; False when it was already served (a late duplicate)."""
        with self._lock:
            if order.id in self._done:
                return False
            old = self._pending.get(order.id)
            self._pending[order.id] = PendingOrder(order, old.received_t if old else t)
            return True

    def cancel(self, order_id: str) -> bool:
        with self._lock:
            return self._pending.pop(order_id, None) is not None

    def get(self, order_id: str) -> PendingOrder | None:
        return self._pending.get(order_id)

    def oldest(self) -> PendingOrder | None:
        with self._lock:
            return next(iter(self._pending.values()), None)

    def take(self, order_id: str) -> PendingOrder | None:
        """Remove an order once a tray has been checked against it."""
        with self._lock:
            p = self._pending.pop(order_id, None)
            if p is not None:
                self._done.add(order_id)
            return p

    def pending(self) -> list[PendingOrder]:
        with self._lock:
            return list(self._pending.values())
