"""``traycheck orders import``: validate a whole file of orders against the site's menu, then store
them in one go."""
from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from edge.app.config import Config
from edge.errors import InvalidInput, TrayCheckError, UnknownSku
from edge.sources.shift_files import read_jsonl
from edge.store.store import OrderClosed, Store
from orders.menu import Menu, load_menu
from orders.models import Order


def site_menu(cfg: Config, config_path: Path) -> tuple[Menu, str]:
    """(the menu ``traycheck run`` would use, how to name it in an error): the config's ``menu``,
    so that an import refuses exactly the SKUs the running appliance would refuse."""
    try:
        menu = load_menu(cfg.menu)
    except TrayCheckError as exc:
        raise InvalidInput(f"config {config_path}: menu: {exc}") from None
    return menu, ("the demo menu (menu: default)" if cfg.menu == "default" else f"menu file {cfg.menu}")


def import_orders(file: Path, data_dir: Path, camera: str | None, menu: Menu | None = None,
                  menu_name: str = "the menu") -> tuple[int, int, list[OrderClosed]]:
    """(orders stored, orders unchanged, orders refused because the box already closed them).
    Nothing is stored unless every line is a valid order of SKUs on ``menu``."""
    if not Path(file).is_file():
        raise InvalidInput(f"{file}: not found")
    menu = menu or Menu()
    orders = []
    for n, row in enumerate(read_jsonl(Path(file)), 1):
        body = row.get("order", row) if row.get("type") == "order" else row
        try:
            order = Order.model_validate(body)
        except ValidationError as exc:
            e = exc.errors()[0]
            raise InvalidInput(f"{file}: line {n}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}") from None
        for i, line in enumerate(order.items):
            if line.sku not in menu:
                raise UnknownSku(f"{file}: line {n}: items.{i}.sku: unknown SKU {line.sku!r} (not on {menu_name})")
        orders.append(order)
    store = Store(Path(data_dir) / "traycheck.db")
    added, closed = 0, []
    try:
        for o in orders:
            try:
                added += store.put_order(o, camera, source="import")
            except OrderClosed as exc:
                closed.append(exc)
    finally:
        store.close()
    return added, len(orders) - added - len(closed), closed
