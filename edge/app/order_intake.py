"""Orders that reach the box over MQTT (``mqtt.orders_topic``), checked as the POS API checks
them: a valid body, SKUs on the menu of the moment, a configured camera, stored before routed."""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from pydantic import ValidationError

from edge.store.store import Store
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


def take_mqtt_order(topic: str, payload: bytes, menu: Menu, cameras: list[str],
                    store: Store) -> tuple[Order | None, str | None]:
    """(the stored order, its camera), or (None, None) when it is refused (logged) or unchanged."""
    try:
        o = OrderIn.model_validate_json(payload)
    except ValidationError as exc:
        log.warning("MQTT order on %s rejected: %s", topic, exc.errors()[0]["msg"])
        return None, None
    plain = Order(id=o.id, items=o.items)
    unknown = [line.sku for line in plain.items if line.sku not in menu]
    if unknown:
        log.warning("MQTT order %s on %s rejected: unknown SKU %r (not on the menu)", o.id, topic, unknown[0])
        return None, None
    if o.camera is not None and o.camera not in cameras:
        log.warning("MQTT order %s on %s rejected: camera %r is not configured (cameras: %s)", o.id, topic,
                    o.camera, ", ".join(cameras))
        return None, None
    try:
        stored = store.put_order(plain, o.camera, "mqtt")
    except (sqlite3.Error, OSError) as exc:
        log.error("MQTT order %s on %s NOT stored (storage: %s): the POS must send it again", o.id, topic, exc)
        return None, None
    return (plain, o.camera) if stored else (None, None)
