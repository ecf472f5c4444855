"""Read the files of a recorded shift (contract section 3) with clear errors."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from edge.errors import InvalidInput
from orders.models import Order


@dataclass(frozen=True)
class PosEvent:
    t: float
    order: Order


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}: line {n}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InvalidInput(f"{path}: line {n}: expected a JSON object")
        rows.append(row)
    return rows


def read_pos(path: Path) -> list[PosEvent]:
    """POS events in stream-time order; a missing file means no orders."""
    if not path.is_file():
        return []
    events = []
    for n, row in enumerate(read_jsonl(path), 1):
        if row.get("type") != "order":
            raise InvalidInput(f"{path}: line {n}: type must be 'order', got {row.get('type')!r}")
        try:
            t = float(row["t"])
            order = Order.model_validate(row["order"])
        except KeyError as exc:
            raise InvalidInput(f"{path}: line {n}: missing key {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                e = exc.errors()[0]
                loc = ".".join(str(p) for p in e["loc"])
                raise InvalidInput(f"{path}: line {n}: order.{loc}: {e['msg']}") from None
            raise InvalidInput(f"{path}: line {n}: t must be a number") from None
        events.append(PosEvent(t, order))
    return sorted(events, key=lambda e: e.t)
