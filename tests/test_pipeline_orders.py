"""The pipeline fed tray events directly (no video): when a tray is checked against which order,
held mismatches, ticketless trays and the nearest plausible order, a menu reload mid-tray."""
from __future__ import annotations

import numpy as np
import pytest

from detectors.loader import load_detector

pytestmark = pytest.mark.quick


@pytest.fixture(scope="module")
def detector():
    return load_detector(None, "fp32", threads=2)


def test_an_order_sent_3_s_after_rest_is_checked_not_called_missing(detector):
    """POS messages come up to 4 s after the tray arrives: no `no_order` before then."""
    from edge.pipeline.camera import CameraPipeline
    from edge.pipeline.tray import TrayEvent
    from orders.menu import load_menu
    from orders.models import Order
    from orders.queue import OrderQueue

    queue = OrderQueue()
    out: list = []
    pipe = CameraPipeline("expo-1", detector, load_menu(None), queue, lambda v, p: out.append(v))
    counts = np.zeros(len(detector.classes), dtype=int)
    counts[detector.classes.index("burger")] = 1
    for ev in (TrayEvent("arrived", 1.0), TrayEvent("rest", 2.0), TrayEvent("counts", 2.0, counts, 0.9)):
        pipe._on_event(ev)
    pipe.tray.ticket = "88"
    for t in (2.1, 3.0, 4.6, 4.9):
        pipe._associate(pipe.tray, t)
    assert out == []
    queue.add(Order(id="88", items=[{"sku": "BURGER", "qty": 1}]), 5.0)
    pipe._associate(pipe.tray, 5.0)
    assert [(v.verdict, v.order_id) for v in out] == [("ok", "88")]


def _held_mismatch_pipeline(detector) -> tuple:
    """A pipeline whose tray rests with a wrong count and its order (by its ticket): the first
    mismatch is held ``mismatch_confirm_s`` (a hand may hide an item)."""
    from edge.pipeline.camera import CameraPipeline
    from edge.pipeline.tray import TrayEvent
    from orders.menu import load_menu
    from orders.models import Order
    from orders.queue import OrderQueue

    queue = OrderQueue()
    queue.add(Order(id="77", items=[{"sku": "BURGER", "qty": 1}]), 0.0)
    out: list = []
    pipe = CameraPipeline("expo-1", detector, load_menu(None), queue, lambda v, p: out.append(v))
    counts = np.zeros(len(detector.classes), dtype=int)
    counts[detector.classes.index("fries")] = 1  # fries where a burger was ordered
    for ev in (TrayEvent("arrived", 1.0), TrayEvent("rest", 2.0), TrayEvent("counts", 2.0, counts, 0.9)):
        pipe._on_event(ev)
    pipe.tray.ticket = "77"
    pipe._associate(pipe.tray, 2.1)
    assert out == [] and pipe.tray.hold_until is not None  # held, not yet decided
    return pipe, out, TrayEvent


def test_a_held_mismatch_is_emitted_when_the_tray_leaves(detector):
    pipe, out, TrayEvent = _held_mismatch_pipeline(detector)
    pipe._on_event(TrayEvent("left", 2.3))  # gone before the hold ended
    assert [(v.verdict, v.order_id, v.seen, v.missing) for v in out] == \
        [("mismatch", "77", {"fries": 1}, {"burger": 1})]


def test_a_held_mismatch_is_emitted_at_the_end_of_the_stream(detector):
    pipe, out, _ = _held_mismatch_pipeline(detector)
    pipe.finish(2.2)
    assert [(v.verdict, v.order_id) for v in out] == [("mismatch", "77")]


class _TicketlessStation:
    """A camera pipeline fed tray events directly: trays without a ticket, counts as given."""

    def __init__(self, detector):
        from edge.pipeline.camera import CameraPipeline
        from orders.menu import load_menu
        from orders.queue import OrderQueue

        self.queue = OrderQueue()
        self.out: list = []
        self.pipe = CameraPipeline("expo-1", detector, load_menu(None), self.queue, lambda v, p: self.out.append(v))
        self.classes = list(detector.classes)

    def order(self, order_id: str, t: float, **skus: int) -> None:
        from orders.models import Order

        self.queue.add(Order(id=order_id, items=[{"sku": k, "qty": n} for k, n in skus.items()]), t)

    def tray(self, t: float, **seen: int) -> tuple:
        """One tray rests at t + 1 and leaves at t + 4.5; its first verdict (kind, order, missing, extra)."""
        from edge.pipeline.tray import TrayEvent

        counts = np.zeros(len(self.classes), dtype=int)
        for c, n in seen.items():
            counts[self.classes.index(c)] = n
        before = len(self.out)
        for ev in (TrayEvent("arrived", t), TrayEvent("rest", t + 1), TrayEvent("counts", t + 1, counts, 0.9)):
            self.pipe._on_event(ev)
        for k in range(40):  # no ticket: FIFO after the ticket tries and the wait (as process() calls it)
            self.pipe.tray.ticket_tries = self.pipe.params.ticket_tries
            if self.pipe.tray.order is None:
                self.pipe._associate(self.pipe.tray, t + 1 + 0.1 * k)
        self.pipe._on_event(TrayEvent("left", t + 4.5))
        v = self.out[before]
        return v.verdict, v.order_id, v.missing, v.extra


def test_a_ticketless_tray_off_by_one_item_is_checked_against_its_order_and_the_next_tray_gets_its_own(detector):
    st = _TicketlessStation(detector)
    st.order("1", 0.0, BURGER_MEAL=1)  # burger, fries, drink
    assert st.tray(0.5, burger=1, fries=1) == ("mismatch", "1", {"drink": 1}, {})
    st.order("2", 4.5, CHICKEN_MEAL=1)
    assert st.tray(5.0, chicken_sandwich=1, fries=1, drink=1) == ("ok", "2", {}, {})


def test_a_ticketless_tray_miscounted_beyond_plausible_mistakes_is_checked_against_the_one_close_order(detector):
    """Three mistakes from its order (beyond FIFO's two) but half its items in common, and no other
    pending order that close: a mismatch naming the differences, not `no_order` (which left the order
    pending to pull the next tray onto it)."""
    st = _TicketlessStation(detector)
    st.order("1", 0.0, BURGER_MEAL=1)  # burger, fries, drink
    st.order("9", 0.0, NUGGETS=2, SALAD=1)  # another tray's: nothing in common with tray 1
    assert st.tray(0.5, burger=1, fries=1, wrap=2) == ("mismatch", "1", {"drink": 1}, {"wrap": 2})
    st.order("2", 4.5, BURGER=1, FRIES=1)
    assert st.tray(5.0, burger=1, fries=1) == ("ok", "2", {}, {})
    assert "9" in st.queue


def test_a_tray_far_from_every_pending_order_gets_no_order_and_leaves_them_as_they_were(detector):
    st = _TicketlessStation(detector)
    st.order("1", 0.0, BURGER_MEAL=1)
    assert st.tray(0.5, nuggets=2, salad=1) == ("no_order", None, {}, {})  # its own was never sent
    assert [p.order.id for p in st.queue.pending()] == ["1"]
    st.order("2", 4.5, NUGGETS=1)
    assert st.tray(5.0, burger=1, fries=1, drink=1) == ("ok", "1", {}, {})  # order 1's tray still gets it


def test_an_order_a_miscounted_tray_left_behind_does_not_pull_the_next_tray(detector):
    """A ticketless tray miscounted beyond FIFO's plausible mistakes, with two pending orders sharing
    most of its items, gets `no_order`: both are left behind. The next tray, one mistake from them and
    from its own order, gets its own (before, the older order won the tie: one miscount cost two
    verdicts, and on a stills shift every later one)."""
    st = _TicketlessStation(detector)
    st.order("1", 0.0, BURGER_MEAL=1)  # burger, fries, drink
    st.order("3", 0.2, BURGER=1, FRIES=1, SALAD=1)
    assert st.tray(0.5, burger=1, fries=1, wrap=2) == ("no_order", None, {}, {})
    st.order("2", 4.5, BURGER=1, FRIES=1, NUGGETS=1)
    assert st.tray(5.0, burger=1, fries=1) == ("mismatch", "2", {"nuggets": 1}, {})
    assert "1" in st.queue and "3" in st.queue  # left for whoever turns up with its ticket, or their expiry


def test_a_menu_reload_that_drops_the_sku_of_a_held_tray_keeps_its_verdict(detector, tmp_path):
    """A tray associated under the old menu is decided by it: the reload neither fails its frames
    nor loses its verdict (the old code raised on every frame while the mismatch was held)."""
    from edge.pipeline.tray import TrayEvent
    from orders.menu import load_menu

    (tmp_path / "old.yaml").write_text("skus:\n  COMBO_X: [burger, drink]\n")
    (tmp_path / "new.yaml").write_text("skus:\n  WRAP_X: [wrap]\n")
    st = _TicketlessStation(detector)
    st.pipe.models.menu = load_menu(tmp_path / "old.yaml")
    st.order("42", 0.0, COMBO_X=1)
    counts = np.zeros(len(st.classes), dtype=int)
    counts[st.classes.index("burger")] = 1  # the drink is missing: a mismatch, held for confirmation
    for ev in (TrayEvent("arrived", 0.5), TrayEvent("rest", 1.5), TrayEvent("counts", 1.5, counts, 0.9)):
        st.pipe._on_event(ev)
    st.pipe.tray.ticket_tries = st.pipe.params.ticket_tries
    for k in range(40):
        if st.pipe.tray.order is None:
            st.pipe._associate(st.pipe.tray, 1.5 + 0.1 * k)
    assert st.pipe.tray.order is not None and st.pipe.tray.hold_until is not None and st.out == []
    st.pipe.switch_model(detector, load_menu(tmp_path / "new.yaml"))  # SIGHUP: COMBO_X is gone
    st.pipe.models.apply(station_empty=False)  # (same classes: at the next frame)
    assert "COMBO_X" not in st.pipe.menu
    st.pipe._on_event(TrayEvent("left", 5.0))
    assert [(v.verdict, v.order_id, v.missing) for v in st.out] == [("mismatch", "42", {"drink": 1})]
