"""``traycheck synth stills``: a recorded shift made of labelled photos, written to a folder.

The trays and their frames are planned in ``stills_layout``; this module encodes
the video, reads back which trays carry a QR ticket the pipeline will see, and
writes the POS orders (each sent just before its tray arrives, one pending at a
time, so the pipeline's nearest-order association without a ticket is fair), the truth,
the menu and the scenario.
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import yaml

from detectors.synth.stills_data import read_dataset
from detectors.synth.stills_layout import Progress, StillsSettings, StillsShift, fit_rect, parse_size
from detectors.synth.stills_orders import truth_line
from detectors.synth.stills_tickets import read_tickets
from detectors.synth.video import VideoWriter
from detectors.zone import Zone
from edge.core import console, progress_bar
from edge.errors import InvalidInput

ORDER_LEAD_S = 0.5  # the POS sends an order this long before its tray arrives (the previous one is gone)
CRF = 14  # near-lossless H.264, no bitrate cap: a stills shift measures the photos, not the codec
TICKET_BEFORE_S = 0.4  # the pipeline tries QR tickets on still frames: from the end of the slide-in ...
TICKET_FRAMES = 10  # ... to this many frames after rest (it tries 8)


def read_order_tickets(shift: StillsShift, video: Path) -> None:
    """Each tray's QR text as the pipeline will read it from ``video`` (see stills_tickets)."""
    windows = []
    for tray in shift.trays:
        rest = int(math.ceil(tray.rest_t * shift.fps - 1e-6))
        first = max(0, int(math.ceil((tray.rest_t - TICKET_BEFORE_S) * shift.fps - 1e-6)))
        windows.append((first, rest, min(rest + TICKET_FRAMES, int(tray.leave_t * shift.fps))))
    texts = read_tickets(video, windows, Zone().bbox(shift.w, shift.h), [t.code_seen for t in shift.trays])
    for tray, text in zip(shift.trays, texts):
        tray.ticket = text


def assign_ids(shift: StillsShift) -> list[str]:
    """Order ids: the photo's own QR ticket when it has a readable one (the pipeline reads it
    too), else 1001, 1002, ... skipping every ticket text. Returns notes for the user."""
    notes = []
    taken: set[str] = set()
    for tray in shift.trays:
        t = tray.ticket
        if t and len(t) <= 64 and t not in taken:
            tray.order_id = t
            taken.add(t)
        elif t:
            why = "is too long for an order id" if len(t) > 64 else "names another tray's order too"
            notes.append(f"{tray.photo.name}: its QR ticket {t[:64]!r} {why}; the pipeline will wait "
                         "for that order and say no_order")
    texts = {tray.ticket for tray in shift.trays if tray.ticket} | taken
    n = 1001
    for tray in shift.trays:
        if not tray.order_id:
            while str(n) in texts:
                n += 1
            tray.order_id = str(n)
            texts.add(str(n))
    return notes


def pos_events(shift: StillsShift) -> list[dict]:
    """pos.jsonl: each tray's order, sent ORDER_LEAD_S before the tray starts sliding in."""
    return [{"t": round(max(0.0, tray.at - ORDER_LEAD_S), 3), "type": "order",
             "order": {"id": tray.order_id, "items": shift.choice.lines(tray.order, shift.ds.names)}}
            for tray in shift.trays]


def truth(shift: StillsShift) -> list[dict]:
    """truth.jsonl: per tray what was ordered and placed, with its boxes in frame pixels at rest."""
    out = []
    for tray, size in zip(shift.trays, shift.sizes):
        ox, oy, nw, nh = fit_rect(*size, shift.w, shift.h)
        boxes = [[c, *(round(v, 1) for v in (ox + b[0] * nw, oy + b[1] * nh, ox + b[2] * nw, oy + b[3] * nh))]
                 for c, b in tray.photo.items]
        out.append(truth_line(tray.order_id, tray.rest_t, tray.leave_t, tray.order, Counter(tray.photo.classes),
                              photo=tray.photo.name, mistake=tray.mistake, boxes=boxes))
    return out


def items_outside_zone(shift: StillsShift) -> int:
    """Labelled items whose box centre, where the photo rests, lies outside the check zone."""
    zone, n = Zone(), 0
    for tray, size in zip(shift.trays, shift.sizes):
        ox, oy, nw, nh = fit_rect(*size, shift.w, shift.h)
        for _, b in tray.photo.items:
            cx, cy = ox + (b[0] + b[2]) / 2 * nw, oy + (b[1] + b[3]) / 2 * nh
            n += int(not zone.contains(np.array([[cx, cy]], np.float32), shift.w, shift.h)[0])
    return n


def scenario(shift: StillsShift) -> dict:
    """scenario.yaml: the contract's keys plus the ``stills`` extension (not renderable)."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{shift.ds.root.name}-{shift.ds.split}".lower()).strip("-") or "photos"
    return {
        "name": f"stills-{slug}", "seed": shift.s.seed,
        "video": {"width": shift.w, "height": shift.h, "fps": shift.fps},
        "menu": "menu.yaml",
        "stills": {  # extension (docs/renderer.md): where the frames came from; not renderable
            "dataset": str(shift.ds.yaml_path.resolve()), "split": shift.ds.split,
            "rest": shift.s.rest, "mistakes": shift.s.mistakes, "background": shift.grey,
            "unlabelled": list(shift.ds.unlabelled),
            "trays": [{"order_id": t.order_id, "photo": t.photo.name, "at": round(t.at, 3),
                       "ticket": "qr" if t.ticket == t.order_id else "none", "mistake": t.mistake}
                      for t in shift.trays],
        },
    }


def write_stills(shift: StillsShift, out: Path, progress: Progress = None) -> list[str]:
    """Write video.mp4, then pos.jsonl, truth.jsonl, menu.yaml and scenario.yaml (order ids need
    the tickets read from the video). Returns notes for the user."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"-o {out}: is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    with VideoWriter(out / "video.mp4", shift.w, shift.h, shift.fps, crf=CRF, max_kbps=0, threads=1) as vw:
        for i in range(shift.n_frames):
            vw.write(shift.frame(i))
            if progress:
                progress(1)
    read_order_tickets(shift, out / "video.mp4")
    notes = assign_ids(shift)
    outside = items_outside_zone(shift)
    if outside:
        notes.append(f"{outside} labelled items have their centre outside the check zone: the pipeline will not "
                     "count them (photos that show more than the tray)")
    if shift.grey_share < 0.25:
        notes.append(f"some photos are close to the empty counter's grey ({shift.grey}): only "
                     f"{shift.grey_share:.0%} of one differs; the gate may miss that tray's arrival")
    (out / "pos.jsonl").write_text("".join(json.dumps(e) + "\n" for e in pos_events(shift)))
    (out / "truth.jsonl").write_text("".join(json.dumps(r) + "\n" for r in truth(shift)))
    (out / "menu.yaml").write_text(shift.choice.menu_text)
    head = ("# A recorded shift made from labelled photos by `traycheck synth stills` (docs/renderer.md).\n"
            "# `replay` reads its menu; `stills` says where the frames came from (not a renderable scenario).\n")
    (out / "scenario.yaml").write_text(head + yaml.safe_dump(scenario(shift), sort_keys=False, width=120))
    return notes


def run_stills(dataset: Path, out: Path, menu: Path | None, mistakes: float, split: str, seed: int, fps: int,
               rest: float, size: str | None) -> StillsShift:
    """The ``synth stills`` command: check everything, render with progress bars, report."""
    settings = StillsSettings(split, menu, mistakes, seed, fps, rest, parse_size(size) if size else None)
    ds = read_dataset(dataset, split)
    with progress_bar("Reading photos", len(ds.photos)) as advance:
        shift = StillsShift(ds, settings, advance)
    with progress_bar(f"Rendering {len(shift.trays)} trays", shift.n_frames) as advance:
        notes = write_stills(shift, out, advance)
    for note in notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    altered = sum(t.mistake is not None for t in shift.trays)
    skipped = f", {len(ds.unlabelled)} photos without labels skipped" if ds.unlabelled else ""
    console.print(f"wrote {out} ({len(shift.trays)} trays, {altered} with an altered order{skipped}; "
                  f"{shift.w}x{shift.h}, {shift.n_frames} frames)", highlight=False)
    return shift
