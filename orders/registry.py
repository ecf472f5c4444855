"""Pending POS orders of every station on the box: one registry, many views.

An order names the station (camera) it will be served at, or none: then any
station may serve it. Whichever station takes it, it is gone everywhere, so
two cameras sharing one POS never serve one order twice. Orders that wait
longer than ``expire_after_s`` (wall time: a lost ticket, a walk-out) are
expired, and orders naming SKUs that a new menu lacks are set aside; both
are handed to a callback (the store marks them, the dashboard shows them)
instead of being checked on every frame and failing there.

A tray is associated with the order whose number its ticket shows; without a
readable ticket, with a plausible pending order (first in, first out). Orders
are idempotent by id: sending the same order again changes nothing, an update
replaces its lines and keeps its place, a cancel removes it.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from orders.models import Order

DEFAULT_EXPIRY_S = 30 * 60.0


@dataclass(frozen=True)
class PendingOrder:
    order: Order
    received_t: float  # stream time the order reached the box (of the station it was routed to)
    camera: str | None = None  # the station that serves it; None: any station
    added: float = 0.0  # the registry's clock when it arrived (for expiry)


@dataclass(frozen=True)
class ClosedOrder:
    """An order that left the registry without a tray verdict naming it, and why: given up on
    (``expired``, ``set aside``: status ``cancelled``) or counted as served by an earlier tray
    (status ``served``). The store writes the same transition, so memory and database agree."""

    order: Order
    camera: str | None
    reason: str
    status: str = "cancelled"


class OrderRegistry:
    """Thread-safe: the POS API, MQTT and every camera pipeline use it from their own threads."""

    def __init__(self, expire_after_s: float | None = DEFAULT_EXPIRY_S,
                 clock: Callable[[], float] = time.monotonic,
                 on_closed: Callable[[ClosedOrder], None] | None = None):
        self.expire_after_s = expire_after_s
        self.clock = clock
        self.on_closed = on_closed
        self._pending: OrderedDict[str, PendingOrder] = OrderedDict()
        self._done: OrderedDict[str, None] = OrderedDict()  # served ids: a late duplicate is not queued again
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, order_id: str) -> bool:
        return order_id in self._pending

    def add(self, order: Order, camera: str | None = None, t: float = 0.0) -> bool:
        """Add or update an order; False when it was already served (a late duplicate)."""
        with self._lock:
            if order.id in self._done:
                return False
            old = self._pending.get(order.id)
            self._pending[order.id] = PendingOrder(order, old.received_t if old else t, camera,
                                                   old.added if old else self.clock())
            return True

    def cancel(self, order_id: str) -> bool:
        with self._lock:
            return self._pending.pop(order_id, None) is not None

    def get(self, order_id: str, camera: str | None = None) -> PendingOrder | None:
        """The pending order ``order_id`` if station ``camera`` may serve it (None: any station asks)."""
        p = self._pending.get(order_id)
        return p if p is not None and _serves(p, camera) else None

    def take(self, order_id: str, camera: str | None = None) -> PendingOrder | None:
        """Remove an order everywhere once a tray at ``camera`` has been checked against it."""
        with self._lock:
            p = self._pending.get(order_id)
            if p is None or not _serves(p, camera):
                return None
            del self._pending[order_id]
            self._done[order_id] = None
            while len(self._done) > 10_000:
                self._done.popitem(last=False)
            return p

    def settle(self, order_id: str, camera: str | None, reason: str) -> PendingOrder | None:
        """Take an order that an earlier tray at ``camera`` served under another id (``reason``), and
        hand the transition to ``on_closed`` (status ``served``) so the database agrees."""
        p = self.take(order_id, camera)
        if p is not None and self.on_closed is not None:
            self.on_closed(ClosedOrder(p.order, p.camera, reason, "served"))
        return p

    def pending(self, camera: str | None = None) -> list[PendingOrder]:
        """Orders station ``camera`` may serve, oldest first (expired ones leave first)."""
        self.expire()
        with self._lock:
            return [p for p in self._pending.values() if _serves(p, camera)]

    def expire(self) -> list[ClosedOrder]:
        """Close the orders that waited longer than ``expire_after_s``."""
        if self.expire_after_s is None:
            return []
        limit = self.clock() - self.expire_after_s
        minutes = f"{self.expire_after_s / 60:g}"
        return self._close(lambda p: p.added < limit, lambda p: f"expired: not served within {minutes} min")

    def set_aside(self, known: Callable[[str], bool]) -> list[ClosedOrder]:
        """Close the orders naming a SKU that ``known`` rejects (a reloaded menu lacks it)."""
        def unknown(p: PendingOrder) -> str | None:
            return next((sku for sku, _ in p.order.lines() if not known(sku)), None)

        return self._close(lambda p: unknown(p) is not None,
                           lambda p: f"set aside: SKU {unknown(p)!r} is not on the menu")

    def _close(self, which: Callable[[PendingOrder], bool],
               reason: Callable[[PendingOrder], str]) -> list[ClosedOrder]:
        closed = []
        with self._lock:
            for order_id in [i for i, p in self._pending.items() if which(p)]:
                p = self._pending.pop(order_id)
                closed.append(ClosedOrder(p.order, p.camera, reason(p)))
        for c in closed:
            if self.on_closed is not None:
                self.on_closed(c)
        return closed

    def station(self, camera: str | None) -> "StationOrders":
        return StationOrders(self, camera)


def _serves(p: PendingOrder, camera: str | None) -> bool:
    return camera is None or p.camera is None or p.camera == camera


class StationOrders:
    """One station's view of the registry: the orders it may serve (the camera pipeline's queue)."""

    def __init__(self, registry: OrderRegistry, camera: str | None):
        self.registry = registry
        self.camera = camera

    def __len__(self) -> int:
        return len(self.pending())

    def __contains__(self, order_id: str) -> bool:
        return self.get(order_id) is not None

    def add(self, order: Order, t: float) -> bool:
        """An order for this station (or, for the registry of one station, for any)."""
        return self.registry.add(order, self.camera, t)

    def cancel(self, order_id: str) -> bool:
        return self.registry.cancel(order_id)

    def get(self, order_id: str) -> PendingOrder | None:
        return self.registry.get(order_id, self.camera)

    def take(self, order_id: str) -> PendingOrder | None:
        return self.registry.take(order_id, self.camera)

    def settle(self, order_id: str, reason: str) -> PendingOrder | None:
        """Take an order an earlier tray served under another id (``OrderRegistry.settle``)."""
        return self.registry.settle(order_id, self.camera, reason)

    def pending(self) -> list[PendingOrder]:
        return self.registry.pending(self.camera)
