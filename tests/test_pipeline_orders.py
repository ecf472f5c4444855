"""The tray checks (``edge.pipeline.tray_checks.TrayChecks``) fed tray events by hand, no video: when
a tray is checked against which order, held mismatches, ticketless trays and the nearest plausible
order, a menu reload mid-tray. Driven only through the part's public interface: ``on_event`` (what
the tracker reports), ``step`` (each frame's stream time) and ``finish``."""
from __future__ import annotations

import numpy as np
import pytest

from detectors.loader import load_detector
from edge.pipeline.association import OrderAssociation
from edge.pipeline.model_switch import ModelSwitch
from edge.pipeline.params import PipelineParams
from edge.pipeline.tray import TrayEvent
from edge.pipeline.tray_checks import TrayChecks
from orders.menu import Menu, load_menu
from orders.models import Order
from orders.queue import OrderQueue

pytestmark = pytest.mark.quick


@pytest.fixture(scope="module")
def detector():
    return load_detector(None, "int8", threads=1)  # (only its class list is used here)


class _Station:
    """One station's tray checks on an order queue of its own; its verdicts collected in ``out``."""

    def __init__(self, detector, menu: Menu | None = None):
        self.queue = OrderQueue()
        self.out: list = []
        self.params = PipelineParams()
        self.models = ModelSwitch("expo-1", detector, menu or load_menu(None))
        orders = OrderAssociation("expo-1", self.queue, self.params)
        self.checks = TrayChecks("expo-1", self.models, orders, self.params, self.out.append, run="r1")

    def order(self, order_id: str, t: float, **skus: int) -> None:
        self.queue.add(Order(id=order_id, items=[{"sku": k, "qty": n} for k, n in skus.items()]), t)

    def rest(self, t: float, **seen: int) -> None:
        """A tray arrives at ``t`` and rests at ``t + 1`` showing ``seen``."""
        counts = np.zeros(len(self.models.classes), dtype=int)
        for c, n in seen.items():
            counts[self.models.classes.index(c)] = n
        for ev in (TrayEvent("arrived", t), TrayEvent("rest", t + 1), TrayEvent("counts", t + 1, counts, 0.9)):
            self.checks.on_event(ev)

    def tray(self, t: float, **seen: int) -> tuple:
        """A ticketless tray rests at t + 1 and leaves at t + 4.5, a frame every 0.1 s in between;
        its first verdict (kind, order, missing, extra)."""
        before = len(self.out)
        self.rest(t, **seen)
        assert self.checks.tray is not None
        self.checks.tray.ticket_tries = self.params.ticket_tries  # every try found no ticket
        for k in range(35):
            self.checks.step(t + 1 + 0.1 * k)
        self.checks.on_event(TrayEvent("left", t + 4.5))
        assert self.checks.tray is None
        v = self.out[before]
        return v.verdict, v.order_id, v.missing, v.extra


def test_an_order_sent_3_s_after_rest_is_checked_not_called_missing(detector):
    """POS messages come up to 4 s after the tray arrives: no `no_order` before then."""
    st = _Station(detector)
    st.rest(1.0, burger=1)
    st.checks.tray.ticket = "88"
    for t in (2.1, 3.0, 4.6, 4.9):
        st.checks.step(t)
    assert st.out == [] and st.checks.tray.order is None
    st.order("88", 5.0, BURGER=1)
    st.checks.step(5.0)
    assert [(v.verdict, v.order_id, v.association, v.tray_seq, v.run) for v in st.out] == [("ok", "88", "qr", 1, "r1")]
    assert "88" not in st.queue and st.checks.verdict_counts == {"ok": 1}


def _held_mismatch(detector) -> _Station:
    """A tray resting with fries where its ticket's order has a burger: the first mismatch is held
    ``mismatch_confirm_s`` after rest (a hand may hide an item)."""
    st = _Station(detector)
    st.order("77", 0.0, BURGER=1)
    st.rest(1.0, fries=1)
    st.checks.tray.ticket = "77"
    st.checks.step(2.1)
    assert st.out == [] and st.checks.tray.hold_until == pytest.approx(2.0 + st.params.mismatch_confirm_s)
    return st


def test_a_held_mismatch_is_emitted_when_its_hold_ends(detector):
    st = _held_mismatch(detector)
    st.checks.step(2.4)
    assert st.out == []
    st.checks.step(2.5)
    assert [(v.verdict, v.order_id, v.seen, v.missing) for v in st.out] == [("mismatch", "77", {"fries": 1},
                                                                            {"burger": 1})]
    st.checks.step(2.6)
    assert len(st.out) == 1  # said once


def test_a_held_mismatch_is_emitted_when_the_tray_leaves(detector):
    st = _held_mismatch(detector)
    st.checks.on_event(TrayEvent("left", 2.3))  # gone before the hold ended
    assert [(v.verdict, v.order_id, v.seen, v.missing) for v in st.out] == \
        [("mismatch", "77", {"fries": 1}, {"burger": 1})]


def test_a_held_mismatch_is_emitted_at_the_end_of_the_stream(detector):
    st = _held_mismatch(detector)
    st.checks.finish(2.2)
    assert [(v.verdict, v.order_id) for v in st.out] == [("mismatch", "77")] and st.checks.tray is None


def test_a_tray_leaving_before_its_counts_is_unchecked_and_gets_no_verdict(detector):
    st = _Station(detector)
    st.checks.on_event(TrayEvent("arrived", 1.0))
    st.checks.on_event(TrayEvent("left", 1.5))
    assert st.out == [] and st.checks.unchecked == 1 and st.checks.seq == 1


def test_a_ticketless_tray_off_by_one_item_is_checked_against_its_order_and_the_next_tray_gets_its_own(detector):
    st = _Station(detector)
    st.order("1", 0.0, BURGER_MEAL=1)  # burger, fries, drink
    assert st.tray(0.5, burger=1, fries=1) == ("mismatch", "1", {"drink": 1}, {})
    st.order("2", 4.5, CHICKEN_MEAL=1)
    assert st.tray(5.0, chicken_sandwich=1, fries=1, drink=1) == ("ok", "2", {}, {})
    assert [v.association for v in st.out] == ["fifo", "fifo"]


def test_a_ticketless_tray_miscounted_beyond_plausible_mistakes_is_checked_against_the_one_close_order(detector):
    """Three mistakes from its order (beyond FIFO's two) but half its items in common, and no other
    pending order that close: a mismatch naming the differences, not `no_order` (which left the order
    pending to pull the next tray onto it)."""
    st = _Station(detector)
    st.order("1", 0.0, BURGER_MEAL=1)  # burger, fries, drink
    st.order("9", 0.0, NUGGETS=2, SALAD=1)  # another tray's: nothing in common with tray 1
    assert st.tray(0.5, burger=1, fries=1, wrap=2) == ("mismatch", "1", {"drink": 1}, {"wrap": 2})
    st.order("2", 4.5, BURGER=1, FRIES=1)
    assert st.tray(5.0, burger=1, fries=1) == ("ok", "2", {}, {})
    assert "9" in st.queue


def test_a_tray_far_from_every_pending_order_gets_no_order_and_leaves_them_as_they_were(detector):
    st = _Station(detector)
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
    st = _Station(detector)
    st.order("1", 0.0, BURGER_MEAL=1)  # burger, fries, drink
    st.order("3", 0.2, BURGER=1, FRIES=1, SALAD=1)
    assert st.tray(0.5, burger=1, fries=1, wrap=2) == ("no_order", None, {}, {})
    st.order("2", 4.5, BURGER=1, FRIES=1, NUGGETS=1)
    assert st.tray(5.0, burger=1, fries=1) == ("mismatch", "2", {"nuggets": 1}, {})
    assert "1" in st.queue and "3" in st.queue  # left for whoever turns up with its ticket, or their expiry


def test_a_menu_reload_that_drops_the_sku_of_a_held_tray_keeps_its_verdict(detector, tmp_path):
    """A tray associated under the old menu is decided by it: the reload neither fails its frames
    nor loses its verdict (the old code raised on every frame while the mismatch was held)."""
    (tmp_path / "old.yaml").write_text("skus:\n  COMBO_X: [burger, drink]\n")
    (tmp_path / "new.yaml").write_text("skus:\n  WRAP_X: [wrap]\n")
    st = _Station(detector, load_menu(tmp_path / "old.yaml"))
    st.order("42", 0.0, COMBO_X=1)
    st.rest(0.5, burger=1)  # the drink is missing: a mismatch, held for confirmation
    st.checks.tray.ticket_tries = st.params.ticket_tries
    st.checks.step(1.5)
    assert st.checks.tray.order is not None and st.checks.tray.hold_until is not None and st.out == []
    st.models.request(detector, load_menu(tmp_path / "new.yaml"))  # SIGHUP: COMBO_X is gone
    assert st.models.apply(station_empty=False) is False  # same classes: taken at once, nothing to restart
    assert "COMBO_X" not in st.models.menu
    st.checks.step(1.6)  # a frame under the new menu: no error
    st.checks.on_event(TrayEvent("left", 1.8))
    assert [(v.verdict, v.order_id, v.missing) for v in st.out] == [("mismatch", "42", {"drink": 1})]
