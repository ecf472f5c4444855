"""One station's pending orders on a registry of its own: the queue a lone pipeline
(a replay, a benchmark, a test) uses. The appliance shares one ``OrderRegistry``
between its stations instead (see ``orders.registry``)."""
from __future__ import annotations

from orders.registry import OrderRegistry, PendingOrder, StationOrders

__all__ = ["OrderQueue", "PendingOrder"]


class OrderQueue(StationOrders):
    """Every order is this station's; nothing expires (a recorded shift's clock is its own)."""

    def __init__(self) -> None:
        super().__init__(OrderRegistry(expire_after_s=None), None)
