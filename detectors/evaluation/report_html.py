"""``--report DIR``: one self-contained HTML page (inline CSS and SVG, no CDN) and the wrong-count photos.

The appliance has no internet: the page must open from a USB stick. The
photos each model counted wrong are written as JPEGs with its boxes and the
ground truth drawn (``DIR/wrong/a/``, ``DIR/wrong/b/``), at most
``MAX_WRONG`` per model, linked from the page.
"""
from __future__ import annotations

import re
from html import escape
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np

from detectors.evaluation.annotate import draw
from detectors.evaluation.compare import Comparison, ModelRun, read_image
from edge.errors import InvalidInput

MAX_WRONG = 60
COLORS = {"a": "#2f6fb3", "b": "#e08a1e"}

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:20px}h2{font-size:17px;margin-top:28px}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f2f2f2}td.l,th.l{text-align:left}
.a{color:#2f6fb3}.b{color:#e08a1e}.note{color:#666}
.gallery{display:flex;flex-wrap:wrap;gap:10px}.gallery figure{margin:0;width:230px}
.gallery img{width:230px;border:1px solid #ccc}.gallery figcaption{font-size:12px}
.cm td{min-width:28px}
"""


def write_report(cmp: Comparison, out_dir: Path) -> Path:
    """Write ``out_dir/index.html`` and the wrong-count photos; the page's path."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"--report {out_dir}: cannot create it ({exc.strerror})") from None
    r = cmp.result
    galleries = [_gallery(cmp, run, key, out_dir) for key, run in zip("ab", cmp.runs)]
    names = {key: escape(r[key]["model"]) for key in "ab"}
    body = [
        f"<h1>Model comparison: <span class=a>{names['a']}</span> (A) vs <span class=b>{names['b']}</span> (B)</h1>",
        f"<p>{r['images']} labelled photos of <code>{escape(r['dataset'])}</code>; operating threshold conf "
        f"{r['conf']}, IoU 0.5; AP from detections at conf {r['ap_conf']}; class names from "
        f"<code>{escape(r['class_names_from'])}</code>.</p>",
        _headline(r),
        "<h2>Per-class AP</h2>",
        _bars(r, "ap50", "AP50"),
        _bars(r, "ap50_95", "AP50-95"),
        _per_class_table(r),
        "<h2>Confusion matrices</h2><p class=note>Rows: the truth; columns: what the model said (IoU &gt; 0.5, "
        "detections above the operating threshold). Row <i>background</i>: a detection where nothing is; "
        "column <i>background</i>: an item the model missed. Shading: share of the row.</p>",
        *[f"<h3 class={k}>{names[k]}</h3>" + _confusion(r[k]["confusion"]) for k in "ab"],
        "<h2>Photos counted wrong</h2><p class=note>Green (thin, name below): the label file. Red (thick, name "
        "and score above): the model, at the operating threshold. A photo is counted wrong when any class's "
        f"count differs from the truth. At most {MAX_WRONG} photos per model are shown.</p>",
        *galleries,
    ]
    title = f"{r['a']['model']} vs {r['b']['model']}"
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n")
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _f(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def _headline(r: dict) -> str:
    rows = [("mAP50", "map50", False), ("mAP50-95", "map50_95", False), ("precision", "precision", False),
            ("recall", "recall", False), ("photos counted right", "count_accuracy", True)]
    head = "".join(f"<th class={k}>{escape(r[k]['model'])}</th>" for k in "ab")
    body = "".join(f"<tr><td class=l>{label}</td>" + "".join(f"<td>{_f(r[k][key], pct)}</td>" for k in "ab")
                   + "</tr>" for label, key, pct in rows)
    body += ("<tr><td class=l>ms/frame (median)</td>"
             + "".join(f"<td>{r[k]['ms_per_frame']:.1f}</td>" for k in "ab") + "</tr>")
    body += ("<tr><td class=l>photos counted wrong</td>"
             + "".join(f"<td>{r[k]['wrong_count_images']}</td>" for k in "ab") + "</tr>")
    return f"<table><tr><th class=l></th>{head}</tr>{body}</table>"


def _bars(r: dict, key: str, title: str) -> str:
    """Horizontal bars, one pair (A above B) per dataset class: an inline SVG."""
    classes = list(r["a"]["per_class"])
    label_w, bar_w, row_h = 170, 420, 26
    height = 30 + row_h * len(classes)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{label_w + bar_w + 60}' height='{height}' "
             f"role='img' aria-label='{escape(title)} per class'>",
             f"<text x='0' y='14' font-weight='bold' font-size='13'>{escape(title)}</text>"]
    for i, name in enumerate(classes):
        y = 24 + i * row_h
        parts.append(f"<text x='{label_w - 6}' y='{y + 15}' text-anchor='end' font-size='12'>{escape(name)}</text>")
        for j, k in enumerate("ab"):
            v = r[k]["per_class"][name][key]
            w = 0 if v is None else max(v, 0.0) * bar_w
            yy = y + 2 + j * 11
            parts.append(f"<rect x='{label_w}' y='{yy}' width='{w:.1f}' height='10' fill='{COLORS[k]}'>"
                         f"<title>{escape(r[k]['model'])}: {_f(v)}</title></rect>")
            parts.append(f"<text x='{label_w + w + 4:.1f}' y='{yy + 9}' font-size='10'>{_f(v)}</text>")
    parts.append("</svg>")
    legend = "".join(f" <span class={k}>&#9632; {escape(r[k]['model'])}</span>" for k in "ab")
    return f"<div>{''.join(parts)}<div class=note>{legend}</div></div>"


def _per_class_table(r: dict) -> str:
    head = ("<tr><th class=l>class</th><th>GT</th>" + "".join(
        f"<th class={k}>{k.upper()} {h}</th>" for h in ("AP50", "AP50-95", "P", "R", "count acc") for k in "ab")
        + "</tr>")
    rows = []
    for name, ra in r["a"]["per_class"].items():
        cells = []
        for key, pct in (("ap50", False), ("ap50_95", False), ("precision", False), ("recall", False),
                         ("count_accuracy", True)):
            for k in "ab":
                row = r[k]["per_class"][name]
                shown = _f(row[key], pct) if row["in_model"] or key == "count_accuracy" else "not in model"
                cells.append(f"<td>{shown}</td>")
        rows.append(f"<tr><td class=l>{escape(name)}</td><td>{ra['gt']}</td>{''.join(cells)}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _confusion(cm: dict) -> str:
    labels, m = cm["labels"], np.array(cm["matrix"])
    keep = (m.sum(axis=0) + m.sum(axis=1)) > 0  # hide classes neither in the truth nor predicted
    keep[-1] = True
    idx = np.nonzero(keep)[0]
    head = "<tr><th class=l>truth \\ said</th>" + "".join(f"<th>{escape(labels[j])}</th>" for j in idx) + "</tr>"
    rows = []
    for i in idx:
        total = max(int(m[i].sum()), 1)
        cells = []
        for j in idx:
            v = int(m[i, j])
            alpha = 0.8 * v / total  # never solid: the count stays readable
            color = "47,111,179" if i == j else "200,60,60"
            style = f" style='background:rgba({color},{alpha:.2f})'" if v else ""
            cells.append(f"<td{style}>{v or ''}</td>")
        rows.append(f"<tr><th class=l>{escape(labels[i])}</th>{''.join(cells)}</tr>")
    return f"<table class=cm>{head}{''.join(rows)}</table>"


def _gallery(cmp: Comparison, run: ModelRun, key: str, out_dir: Path) -> str:
    folder = out_dir / "wrong" / key
    folder.mkdir(parents=True, exist_ok=True)
    shown = run.wrong[:MAX_WRONG]
    figures = []
    for w in shown:
        item = cmp.data.images[w.index]
        img = read_image(item.path)
        h, wd = img.shape[:2]
        gt = item.boxes * np.array([wd, h, wd, h], np.float32)
        gt_cls = item.classes  # dataset ids are the first entries of every label space
        pic = draw(img, gt, gt_cls, w.xyxy, w.conf, w.cls, run.labels)
        fname = f"{w.index:05d}_{re.sub(r'[^A-Za-z0-9_.-]', '_', item.path.stem)[:60]}.jpg"
        cv2.imwrite(str(folder / fname), pic, [cv2.IMWRITE_JPEG_QUALITY, 88])
        diffs = ", ".join(f"{escape(cmp.data.names[c])} {int(w.pred_counts[c])} (truth {int(w.gt_counts[c])})"
                          for c in np.nonzero(w.pred_counts != w.gt_counts)[0])
        href = f"wrong/{key}/{quote(fname)}"
        figures.append(f"<figure><a href='{href}'><img src='{href}' alt='{escape(item.path.name)}' loading=lazy></a>"
                       f"<figcaption>{escape(item.path.name)}: {diffs}</figcaption></figure>")
    n = len(run.wrong)
    cap = f" (showing the first {MAX_WRONG} of {n})" if n > MAX_WRONG else ""
    head = f"<h3 class={key}>{escape(run.name)}: {n} photos counted wrong{cap}</h3>"
    return head + (f"<div class=gallery>{''.join(figures)}</div>" if figures else "<p>None.</p>")
