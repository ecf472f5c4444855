"""What content alone can tell a ticketless tray: for every tray of the given recorded shifts
whose ticket cannot be read (``ticket: none`` or ``damaged`` in its scenario), the orders pending
at the no-order deadline (rest + 3.5 s, when every late POS message has arrived; the six oldest
not yet served by an earlier tray) ranked by kitchen mistakes from what is on the tray (the
truth's ``placed``: perfect counting). No replay: it says where the nearest-order rule *could* be right, whatever
its rule, and is how docs/pipeline.md's "ceiling of the ticketless association" paragraph was counted.

    python scripts/fifo_ceiling.py SHIFT_OR_FOLDER_OF_SHIFTS [--deadline 3.5] [--model NAME_OR_FILE]
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import yaml

from detectors.model_info import load_metadata, lookalike_pairs, metadata_path, model_classes, resolve_model
from orders.matching import match, mistakes
from orders.menu import Menu

WINDOW = 6  # a ticketless tray is matched among this many oldest pending orders (PipelineParams.fifo_window)


def model_lookalikes(model: str | None) -> tuple[tuple[str, str], ...]:
    """The look-alike pairs of a model (None: the bundled one), from its metadata, as the pipeline gets them."""
    path = resolve_model(model)
    return lookalike_pairs(load_metadata(path), model_classes(path), f"model metadata {metadata_path(path)}")


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def classify(folder: Path, deadline: float, menu: Menu, lookalikes: tuple[tuple[str, str], ...]) -> Counter[str]:
    """One line per ticketless tray: what the pending orders say about it (``lookalikes``: the model's pairs)."""
    trays = yaml.safe_load((folder / "scenario.yaml").read_text())["trays"]
    truth = _jsonl(folder / "truth.jsonl")
    sent = {e["order"]["id"]: (e["t"], e["order"]) for e in _jsonl(folder / "pos.jsonl") if e.get("type") == "order"}
    served: set[str] = set()
    out: Counter[str] = Counter()
    for tray, t in zip(trays, truth):
        own = str(tray["order"]["id"])
        pending = sorted(((st, o) for i, (st, o) in sent.items() if st <= t["rest_t"] + deadline and i not in served),
                         key=lambda x: x[0])[:WINDOW]
        served.add(own)
        if tray.get("ticket", "qr") == "qr":
            continue
        ranked = [(mistakes(match(menu.expected([(i["sku"], i["qty"]) for i in o["items"]]), t["placed"]), lookalikes),
                   st, str(o["id"])) for st, o in pending]
        others = sorted(n for n, _, oid in ranked if oid != own)
        if own not in sent:
            out[f"never sent; nearest pending order {others[0] if others else '-'} mistakes away"] += 1
            continue
        mine = next((r for r in ranked if r[2] == own), None)
        if mine is None:
            out["own order not among the pending ones at the deadline"] += 1
        elif any(n == 0 and st < mine[1] for n, st, oid in ranked if oid != own) and mine[0] == 0:
            out["identical order pending and older: undecidable"] += 1
        elif mine[0] <= 2 and all(n > mine[0] or (n == mine[0] and st > mine[1]) for n, st, oid in ranked
                                  if oid != own):
            out["own order nearest, within 2 mistakes"] += 1
        else:
            tie = "; another as near" if others and others[0] <= mine[0] else ""
            out[f"own order {mine[0]} mistakes away{tie}"] += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--deadline", type=float, default=3.5, help="seconds after rest (no_order_after_s)")
    ap.add_argument("--model", default=None, help="the model whose look-alike pairs count (default: the bundled one)")
    args = ap.parse_args()
    pairs = model_lookalikes(args.model)
    folders = [args.path] if (args.path / "truth.jsonl").is_file() else sorted(
        p.parent for p in args.path.glob("*/truth.jsonl"))
    if not folders:
        raise SystemExit(f"{args.path}: no recorded shift here (truth.jsonl) or in its subfolders")
    total: Counter[str] = Counter()
    for f in folders:
        total += classify(f, args.deadline, Menu(), pairs)
    for line, n in sorted(total.items(), key=lambda kv: -kv[1]):
        print(f"{n:4d}  {line}")
    print(f"{sum(total.values()):4d}  ticketless trays in {len(folders)} shifts")


if __name__ == "__main__":
    main()
