"""Scenario contract: defaults, derived truth and POS records, and errors that name key and line."""
from __future__ import annotations

from edge.errors import InvalidInput
import pytest

from detectors.synth.scenario import load_scenario, parse_scenario
from detectors.synth.shift_records import pos_events, truth_records

pytestmark = pytest.mark.quick


def test_defaults_and_placed_from_order(small_scenario):
    loaded = load_scenario(small_scenario)
    s = loaded.scenario
    assert (s.video.width, s.video.height, s.video.fps) == (640, 480, 15)
    assert s.camera.noise == 0.0 and s.camera.brightness == 1.0
    second = s.trays[1]
    assert second.ticket == "damaged" and second.hands == 0 and second.clutter == 0
    # placed omitted = what the order expects; KETCHUP has no visual items
    assert dict(loaded.placed(second)) == {"wrap": 1}
    assert second.rest_t == pytest.approx(6.5) and second.leave_t == pytest.approx(8.5)


def test_truth_and_pos_records(small_scenario):
    loaded = load_scenario(small_scenario)
    truth = truth_records(loaded)
    assert truth[0] == {
        "order_id": "1042", "rest_t": 1.5, "leave_t": 4.0,
        "expected": {"burger": 1, "drink": 1, "fries": 1, "sauce": 2},
        "placed": {"burger": 1, "drink": 1, "fries": 1, "sauce": 1},
        "initial": "mismatch", "missing": {"sauce": 1}, "extra": {}, "final": "ok",
    }
    assert truth[1]["initial"] == "no_order" and truth[1]["final"] == "no_order"
    pos = pos_events(loaded)
    assert pos == [{"t": 0.0, "type": "order", "order": {"id": "1042", "items": [
        {"sku": "BURGER_MEAL", "qty": 1}, {"sku": "SAUCE_BBQ", "qty": 2}]}}]  # 1043 is never sent


BAD = [
    # (replace this, with this, expected fragments of the message)
    ("name: small-test", "name: Small Test", ["line 1", "name", "[a-z0-9-]+"]),
    ("{sku: WRAP, qty: 1}", "{sku: WRAPPP, qty: 1}", ["line 20", "trays.1.order.items.0.sku", "WRAPPP"]),
    ("placed: {burger: 1, fries: 1, drink: 1, sauce: 1}", "placed: {burger: 1, pizza: 1}",
     ["line 12", "trays.0.placed", "pizza"]),
    ("placed: {burger: 1, fries: 1, drink: 1, sauce: 1}", "placed: {burger: 5, fries: 4}",
     ["line 12", "trays.0.placed", "at most 8"]),
    ("  - at: 5.5", "  - at: 3.0", ["line 18", "trays.1.at", "overlap"]),
    ("dwell: 2.0", "dwell: 1.0", ["line 19", "trays.1.dwell", "greater than or equal to 2"]),
    ("hands: 1", "hands: 7", ["line 13", "trays.0.hands"]),
    ("ticket: damaged", "ticket: torn", ["line 21", "trays.1.ticket"]),
    ("seed: 5", "seed: five", ["line 2", "seed"]),
    ("      at: 1.0", "      at: 9.0", ["line 16", "trays.0.fix.at", "dwell"]),
    ("    clutter: 1", "    clutter: 1\n    colour: red", ["line 15", "trays.0.colour", "not permitted"]),
]


@pytest.mark.parametrize("old,new,fragments", BAD)
def test_errors_name_key_and_line(small_scenario, old, new, fragments):
    text = small_scenario.read_text()
    assert old in text
    bad = small_scenario.with_name("bad.yaml")
    bad.write_text(text.replace(old, new, 1))
    assert_refused(bad, fragments)


def test_unreadable_scenarios(tmp_path):
    with pytest.raises(InvalidInput, match="not found"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(InvalidInput, match="line 3.*not valid YAML"):
        parse_scenario("name: x\nseed: [1,\n")
    with pytest.raises(InvalidInput, match="YAML mapping"):
        parse_scenario("- just\n- a list\n")


def test_camera_ranges():
    with pytest.raises(InvalidInput, match="camera.jpeg_quality.*between 20 and 100"):
        parse_scenario("name: a\nseed: 1\ncamera: {jpeg_quality: 5}\n")
    with pytest.raises(InvalidInput, match="line 4: camera.noise"):
        parse_scenario("name: a\nseed: 1\ncamera:\n  noise: 0.5\n")


def test_rush_hard_uses_every_knob():
    """Compound mistakes of any class, ticketless never-sent orders, POS up to 4 s late, identical
    orders back to back, 2.5 s dwells and 2 s from one tray leaving to the next at rest."""
    from collections import Counter

    from detectors.synth.generate import SWAPS, random_scenario, scenario_yaml
    from orders.menu import Menu

    menu = Menu()
    trays = []
    for seed in range(1, 7):
        doc = random_scenario("rush-hard", seed)
        parse_scenario(scenario_yaml(doc))  # valid
        trays += doc["trays"]
    lines = [tuple((i["sku"], i["qty"]) for i in t["order"]["items"]) for t in trays]
    wrong = [t for t in trays if "placed" in t]
    n_errors = [sum(((menu.expected(ln) - Counter(t["placed"])) + (Counter(t["placed"]) - menu.expected(ln))).values())
                for t, ln in zip(trays, lines) if "placed" in t]
    assert max(n_errors) >= 3 and min(n_errors) >= 1
    off_pairs = {c for t, ln in zip(trays, lines) if "placed" in t
                 for c in Counter(t["placed"]) - menu.expected(ln) if c not in SWAPS}
    assert len(off_pairs) >= 4 and len(wrong) > 0.2 * len(trays)
    never = [t for t in trays if t["order"]["sent"] == "never"]
    assert any(t["ticket"] != "qr" for t in never)
    late = [t["order"]["sent"] for t in trays if t["order"]["sent"] != "never" and t["order"]["sent"] > 0]
    assert max(late) > 3.0 and all(s <= 4.0 for s in late)
    assert all(t["order"]["sent"] == "never" or t["order"]["sent"] <= t["dwell"] + 0.5 for t in trays)
    assert sum(a == b for a, b in zip(lines, lines[1:])) >= 10
    assert sum(t["dwell"] == 2.5 for t in trays) > 0.2 * len(trays)
    rest_after_leave = [b["at"] + 1.0 - (a["at"] + 1.0 + a["dwell"]) for a, b in zip(trays, trays[1:]) if b["at"] > a["at"]]
    assert min(rest_after_leave) == pytest.approx(2.0, abs=0.11)


def test_the_bundled_fixtures_are_still_what_their_kind_and_seed_give():
    """The new knobs draw nothing for the first three kinds: their seeds give the same shifts."""
    import yaml

    from conftest import SHIFTS
    from detectors.synth.generate import random_scenario

    for shift in SHIFTS:
        doc = yaml.safe_load((shift / "scenario.yaml").read_text())
        assert random_scenario(shift.name, doc["seed"], doc["name"]) == doc


def assert_refused(bad, fragments) -> None:
    """``load_scenario(bad)`` refuses it in one line that names the file and every fragment."""
    with pytest.raises(InvalidInput) as err:
        load_scenario(bad)
    msg = str(err.value)
    assert "\n" not in msg and str(bad) in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)
