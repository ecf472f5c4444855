"""Orders that reach the box over MQTT (``mqtt.orders_topic``), checked as the POS API checks
them: a valid body, SKUs on the menu of the moment, a configured camera, stored before routed.

The publisher acknowledges a message (PUBACK) only when this says it is settled: stored, the same
order again, or refused for good (a bad body, a closed order). A storage failure leaves it
unacknowledged and it is tried again, so the POS's QoS 1 means what it says."""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from edge.store.store import OrderClosed, Store
from edge.web.app import OrderIn
from orders.menu import Menu
from orders.models import Order

log = logging.getLogger("traycheck.service")


class CurrentMenu:
    """What the POS API checks SKUs against: the service's menu of the moment (SIGHUP may change it)."""

    def __init__(self, menu: Callable[[], Menu]):
        self.menu = menu

    def __contains__(self, sku: object) -> bool:
        return sku in self.menu()


@dataclass
class IntakeCounts:
    """What MQTT order intake did, for metrics and health: nothing refused is silent."""

    stored: int = 0
    unchanged: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # reason (invalid, unknown_sku, camera, closed) -> n
    storage_failures: int = 0  # attempts that failed to store (each retried until it succeeds)

    def refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1


@dataclass(frozen=True)
class Taken:
    """The outcome of one MQTT order: ``settled`` (acknowledge it), and the order to route when it was stored."""

    settled: bool
    order: Order | None = None
    camera: str | None = None


def take_mqtt_order(topic: str, payload: bytes, menu: Menu, cameras: list[str], store: Store,
                    counts: IntakeCounts | None = None) -> Taken:
    """Validate and store one order published on ``topic``; refusals are logged and counted."""
    counts = counts if counts is not None else IntakeCounts()
    try:
        o = OrderIn.model_validate_json(payload)
    except ValidationError as exc:
        log.warning("MQTT order on %s rejected: %s", topic, exc.errors()[0]["msg"])
        counts.refuse("invalid")
        return Taken(True)
    plain = Order(id=o.id, items=o.items)
    unknown = [line.sku for line in plain.items if line.sku not in menu]
    if unknown:
        log.warning("MQTT order %s on %s rejected: unknown SKU %r (not on the menu)", o.id, topic, unknown[0])
        counts.refuse("unknown_sku")
        return Taken(True)
    if o.camera is not None and o.camera not in cameras:
        log.warning("MQTT order %s on %s rejected: camera %r is not configured (cameras: %s)", o.id, topic,
                    o.camera, ", ".join(cameras))
        counts.refuse("camera")
        return Taken(True)
    try:
        stored = store.put_order(plain, o.camera, "mqtt")
    except OrderClosed as exc:
        log.warning("MQTT order on %s rejected: %s", topic, exc)
        counts.refuse("closed")
        return Taken(True)
    except (sqlite3.Error, OSError) as exc:
        if counts.storage_failures == 0 or not counts.storage_failures % 60:
            log.error("MQTT order %s on %s not stored yet (storage: %s): not acknowledged, trying again",
                      o.id, topic, exc)
        counts.storage_failures += 1
        return Taken(False)
    if not stored:
        counts.unchanged += 1
        return Taken(True)
    counts.stored += 1
    return Taken(True, plain, o.camera)
