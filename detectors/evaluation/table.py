"""The side-by-side table of ``traycheck model compare`` (rich), from the result JSON."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _f(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def _pair(a: float | None, b: float | None, pct: bool = False) -> tuple[str, str]:
    """Both values, the better one bold (a difference that shows at the printed precision only)."""
    sa, sb = _f(a, pct), _f(b, pct)
    if a is not None and b is not None and sa != sb:
        return (f"[bold]{sa}[/bold]", sb) if a > b else (sa, f"[bold]{sb}[/bold]")
    return sa, sb


def _pr(row: dict) -> str:
    return f"{_f(row['precision'])}/{_f(row['recall'])}"


def _class_conf(name: str, a: dict, b: dict) -> str:
    """The class's own thresholds (A/B; '-' for a model without class_conf)."""
    va, vb = ((r.get("class_conf") or {}).get(name) for r in (a, b))
    return "/".join("-" if v is None else f"{v:.2f}" for v in (va, vb))


def print_comparison(result: dict, console: Console) -> None:
    """Per-class rows for the dataset's classes, then the summary rows."""
    a, b = result["a"], result["b"]
    na, nb = escape(a["model"]), escape(b["model"])
    own = [k for k, r in (("A", a), ("B", b)) if r.get("class_conf")]
    t = Table(title=f"{na} (A) vs {nb} (B): {result['images']} photos of {escape(result['dataset'])}, "
                    f"conf {result['conf']}" + (f" ({' and '.join(own)} at its own class_conf)" if own else "")
                    + ", IoU 0.5")
    if own:
        t.add_column("class_conf", justify="right")
    t.add_column("class")
    t.add_column("GT", justify="right")
    for head in ("AP50", "AP50-95", "P/R", "count acc"):
        t.add_column(f"A {head}", justify="right")
        t.add_column(f"B {head}", justify="right")
    for name, ra in a["per_class"].items():
        rb = b["per_class"][name]
        ap50 = _pair(ra["ap50"], rb["ap50"])
        ap = _pair(ra["ap50_95"], rb["ap50_95"])
        cnt = _pair(ra["count_accuracy"], rb["count_accuracy"], pct=True)
        pa = _pr(ra) if ra["in_model"] else "not in model"
        pb = _pr(rb) if rb["in_model"] else "not in model"
        t.add_row(escape(name), *([_class_conf(name, a, b)] if own else []), str(ra["gt"]), ap50[0], ap50[1],
                  ap[0], ap[1], pa, pb, cnt[0], cnt[1])
    t.add_section()
    ap50 = _pair(a["map50"], b["map50"])
    ap = _pair(a["map50_95"], b["map50_95"])
    cnt = _pair(a["count_accuracy"], b["count_accuracy"], pct=True)
    t.add_row("[bold]all[/bold] (mAP; P/R; photos counted right)", *([""] if own else []),
              str(sum(r["gt"] for r in a["per_class"].values())), ap50[0], ap50[1], ap[0], ap[1], _pr(a), _pr(b),
              cnt[0], cnt[1])
    console.print(t)
    _print_notes(result, own, console)


def _print_notes(result: dict, own: list[str], console: Console) -> None:
    """Below the table: each own-threshold model's count accuracy at one threshold, speed, skipped photos."""
    a, b = result["a"], result["b"]
    for key in own:
        r = a if key == "A" else b
        console.print(f"{key} counts at its own class_conf: {_f(r['count_accuracy'], True)} of photos counted right; "
                      f"at the one threshold {result['conf']}: {_f(r['count_accuracy_at_conf'], True)}")
    console.print(f"speed (median ms/frame, {result['threads']} threads, same photos): "
                  f"A {a['ms_per_frame']:.1f} ms, B {b['ms_per_frame']:.1f} ms; "
                  f"photos counted wrong: A {a['wrong_count_images']}, B {b['wrong_count_images']}")
    if result["unlabelled_skipped"]:
        console.print(f"{result['unlabelled_skipped']} photos without a label file were skipped")
