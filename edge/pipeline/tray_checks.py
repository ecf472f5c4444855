"""The tray on the station, from the tracker's events to its verdicts: when it is checked against
which order (``OrderAssociation``), when its counts make a verdict (``verdict_rules.decide``), and
the verdict records. Its own part so that these decisions are tested on hand-made events, without
video; the conductor (``CameraPipeline``) feeds it the tracker's events and each frame's time."""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from edge.pipeline.association import OrderAssociation
from edge.pipeline.checked_tray import CheckedTray
from edge.pipeline.model_switch import ModelSwitch
from edge.pipeline.params import PipelineParams
from edge.pipeline.tray import TrayEvent, TrayEventKind
from edge.pipeline.verdict_rules import decide
from edge.pipeline.verdicts import Association, Verdict, VerdictKind

log = logging.getLogger("traycheck.pipeline")


class TrayChecks:
    """``models``: the classes the events' count vectors mean and the menu orders are read by, as
    they are now. ``emit``: called with every verdict once the tray holds it (the conductor locks
    the tracker's counts and hands it on). ``run``: the run id every verdict carries."""

    def __init__(self, camera: str, models: ModelSwitch, orders: OrderAssociation, params: PipelineParams,
                 emit: Callable[[Verdict], None], run: str = ""):
        self.camera, self.models, self.orders, self.params, self.emit, self.run_id = \
            camera, models, orders, params, emit, run
        self.tray: CheckedTray | None = None  # the tray on the station, if any
        self.seq = self.unchecked = 0  # trays seen, trays gone unchecked
        self.verdict_counts: dict[str, int] = {}

    def on_event(self, ev: TrayEvent) -> None:
        """Follow the tracker: a new tray, its rest, its (changed) counts, its leaving."""
        tray = self.tray
        if ev.kind is TrayEventKind.ARRIVED:
            self.seq += 1
            self.tray = CheckedTray(self.seq)
        elif tray is None:
            return
        elif ev.kind is TrayEventKind.REST:
            tray.rest_t = ev.t
        elif ev.kind in (TrayEventKind.COUNTS, TrayEventKind.CHANGED):
            assert ev.counts is not None
            tray.counts = {self.models.classes[i]: int(n) for i, n in enumerate(ev.counts) if n > 0}
            tray.confidence = ev.confidence
            if tray.order is not None:
                self._decide(tray, ev.t)
        elif ev.kind is TrayEventKind.LEFT:
            self._left(tray, ev.t)

    def _left(self, tray: CheckedTray, t: float) -> None:
        if tray.hold_until is not None:  # a first mismatch still held: the tray's last counts stand
            self._decide(tray, t, confirmed=True)
        self.tray = None
        if tray.counts is None:
            self.unchecked += 1
            log.info("%s: tray %d left before it could be checked", self.camera, tray.seq)
        elif tray.order is None and tray.last_verdict is None:
            self._emit(tray, VerdictKind.NO_ORDER, {}, {}, t)

    def step(self, t: float) -> None:
        """What stream time ``t`` decides: a counted tray's order (``no_order`` once it waited too
        long), a held mismatch whose hold is over."""
        tray = self.tray
        if tray is not None and tray.counts is not None and tray.order is None:
            self._associate(tray, t)
        if tray is not None and tray.hold_until is not None and t >= tray.hold_until:
            self._decide(tray, t, confirmed=True)

    def finish(self, t: float) -> None:
        """End of stream: a tray still in view counts as having left now."""
        if self.tray is not None:
            self.on_event(TrayEvent(TrayEventKind.LEFT, t))

    def _associate(self, tray: CheckedTray, t: float) -> None:
        assert tray.rest_t is not None
        if tray.last_verdict is None and t - tray.rest_t >= self.params.no_order_after_s:
            self._emit(tray, VerdictKind.NO_ORDER, {}, {}, t)  # an order that turns up later still gets checked
        if self.orders.associate(tray, t, self.models.menu, self.models.lookalikes):
            self._decide(tray, t)

    def _decide(self, tray: CheckedTray, t: float, confirmed: bool = False) -> None:
        d = decide(tray, t, self.params.mismatch_confirm_s, confirmed)
        if d is not None:
            self._emit(tray, d.kind, d.missing, d.extra, t, dict(sorted(Counter(tray.expected).items())))

    def _emit(self, tray: CheckedTray, kind: VerdictKind, missing: dict[str, int], extra: dict[str, int], t: float,
              expected: dict[str, int] | None = None) -> None:
        association = tray.association or Association.NONE
        if tray.order is None and tray.ticket:
            association = Association.QR_UNKNOWN
        v = Verdict(camera=self.camera, order_id=tray.order.order.id if tray.order else None, verdict=kind,
                    missing=missing, extra=extra, video_t=round(t, 3), tray_seq=tray.seq,
                    confidence=tray.confidence, seen=dict(sorted((tray.counts or {}).items())),
                    expected=expected or {}, rest_t=tray.rest_t, association=association, run=self.run_id)
        tray.last_verdict = kind
        if kind is VerdictKind.NO_ORDER:
            self.orders.pass_over(tray, self.models.menu)
        tray.verdicts.append(v)
        self.verdict_counts[kind] = self.verdict_counts.get(kind, 0) + 1
        self.emit(v)
