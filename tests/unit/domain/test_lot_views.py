"""The lot views the monitor stores for processes without one (backend/domain/lot_views.py):
a fresh stored view decides a release as the monitor's own state does — the same refusal,
the same EPCs observed present, the same value per item —; a missing, stale or mismatched
one refuses; the missing EPCs travel as bits."""
from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import pytest
from factory import lot, message, noisy_sample, registry, tick
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain import lot_views as views
from backend.domain import monitor
from backend.domain.config import MonitorConfig
from backend.domain.monitor import Market, MonitorState
from backend.domain.observations import LotSample
from backend.domain.pledges import apply_release
from backend.domain.registry import ReleaseOrder

CONFIG = MonitorConfig()
GOODS = lot("lot-1", items=20)
LAST_3 = frozenset(sorted(GOODS.epcs)[-3:])


def normal(now_s, rng):
    return noisy_sample(GOODS, rng, now_s)


def theft(now_s, rng):      # three items gone at minute 5: seen at once, alerted (critical) later
    return noisy_sample(GOODS, rng, now_s, present=GOODS.epcs - LAST_3 if now_s >= 300 else None)


def drift(now_s, rng):      # the scale weighs a fifth more than the tags' items: unverified
    return noisy_sample(GOODS, rng, now_s, weight_kg=GOODS.total_weight_kg * 1.2 if now_s >= 300 else None)


def rfid_dead(now_s, rng):  # the reader falls silent at minute 5
    sample = noisy_sample(GOODS, rng, now_s)
    return sample._replace(rfid=None) if now_s >= 300 else sample


def warm(now_s, rng):       # a perishable lot above its maximum temperature: its quality falls
    return noisy_sample(GOODS, rng, now_s, temperature_c=-10.0 if now_s >= 300 else -22.0)


SCENARIOS = {  # name: (sample, price at minute, perishable)
    "verified": (normal, lambda t: 5000, False),
    "theft": (theft, lambda t: 5000, False),
    "drift": (drift, lambda t: 5000, False),
    "rfid dead": (rfid_dead, lambda t: 5000, False),
    "unpriced": (normal, lambda t: None, False),
    "stale price": (normal, lambda t: 5000 if t < 120 else None, False),  # max age 1 h
    "warm perishable": (warm, lambda t: 5000, True),
}


def states(name: str, minutes: int = 75):
    sample_at, price_at, perishable = SCENARIOS[name]
    book = registry(lots=[GOODS], perishable=perishable)
    rng, state = random.Random(7), MonitorState()
    for minute in range(minutes):
        now_s = minute * 60
        price = price_at(now_s)
        result = monitor.step(state, book, [message("gw-1", now_s, sample_at(now_s, rng)), message("gw-2", now_s)],
                              Market((tick(price, now_s),) if price is not None else ()), now_s, CONFIG)
        state = result.state
        yield book, state, now_s


def stored_from(state: MonitorState, book, now_s: float, source: str = views.WHOLE_BOOK) -> views.StoredLotView:
    """What a process without the monitor reads back of this tick's view of lot-1."""
    pledged = book.pledged_epcs["lot-1"]
    critical = views.critical_by_lot(state.alerts.active.values())
    view = views.lot_release_view(state, book, "lot-1", views.pledge_digest(views.pledge_order(pledged)),
                                  critical.get("lot-1"), now_s)
    assert view is not None
    mark = state.prices.get("steel")
    return views.StoredLotView(view, source, now_s, mark.accepted if mark else None)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_fresh_stored_view_decides_as_the_monitors_state(name):
    refusals, values = set(), set()
    for book, state, now_s in states(name):
        stored = stored_from(state, book, now_s)
        pledged = book.pledged_epcs["lot-1"]
        order = views.pledge_order(pledged)
        for later_s in (now_s, now_s + 9):           # read within the bound, before the next tick
            usable, why = views.usable_view([stored], book, "lot-1", later_s, 10.0, views.pledge_digest(order))
            assert (usable, why) == (stored, None)
            refusal = views.stored_refusal(stored, book, "lot-1", later_s)
            assert refusal == monitor.release_refusal(state, book, "lot-1", later_s)
            refusals.add(refusal.split(":")[0].split(" (")[0] if refusal else None)
        assert views.stored_present(stored, pledged, order) == monitor.observed_present(state, book, "lot-1")
        value = views.stored_value_per_item(stored, book, "lot-1", book.loans["loan-1"])
        assert value == monitor.value_per_item(state, book, "lot-1", book.loans["loan-1"])
        values.add(value)
        view = state.lot_views["lot-1"]
        shown = views.observed_lot(stored, order)
        assert (shown.observed_items, shown.observed_quantity, shown.rfid_ok, shown.scale_ok, shown.weight_net_kg,
                shown.expected_weight_kg, shown.missing_epcs) == (
            view.observed_items, view.observed_quantity, view.rfid_ok, view.scale_ok, view.weight_net_kg,
            view.expected_weight_kg, view.missing_epcs)
    expected = {"verified": {None}, "theft": {None, "critical alert open on lot-1"},
                "drift": {None, "lot unverified"}, "rfid dead": {None, "lot unverified"},
                "unpriced": {"no price for steel"}, "stale price": {None, "price of steel is stale"},
                "warm perishable": {None}}[name]
    assert refusals == expected                      # each scenario reached the refusal it is about
    if name == "warm perishable":
        assert len(values) > 1                       # the quality fell: so did an item's value


def test_a_release_after_a_theft_frees_only_the_items_the_view_saw():
    *_, (book, state, now_s) = states("theft", minutes=8)
    stored = stored_from(state, book, now_s)
    pledged = book.pledged_epcs["lot-1"]
    assert stored.view.missing and len(stored.view.missing) <= 3   # 20 items: 3 bytes at most
    assert views.stored_present(stored, pledged, views.pledge_order(pledged)) == GOODS.epcs - LAST_3


def test_no_view_an_old_one_or_one_judged_on_another_pledge_refuses():
    *_, (book, state, now_s) = states("verified", minutes=4)
    stored = stored_from(state, book, now_s)
    digest = stored.view.pledge_digest
    none, why = views.usable_view([], book, "lot-1", now_s, 10.0, digest)
    assert none is None and why == "the monitor has no view of lot lot-1: no goods leave it before the monitor has judged it"
    assert views.usable_view([stored], book, "lot-1", now_s + 10, 10.0, digest) == (stored, None)
    old, why = views.usable_view([stored], book, "lot-1", now_s + 10.5, 10.0, digest)
    assert old is None and why == ("the monitor's view of lot lot-1 is 10 s old (more than 10 s): no goods leave "
                                   "while the monitor is not judging the lot")
    released = apply_release(book, ReleaseOrder("r1", "loan-1", "lot-1", frozenset(sorted(GOODS.epcs)[:2]),
                                                 "bank-a", Decimal(0), 0))
    new_order = views.pledge_order(released.pledged_epcs["lot-1"])
    moved, why = views.usable_view([stored], released, "lot-1", now_s, 10.0, views.pledge_digest(new_order))
    assert moved is None and why.startswith("the monitor has not judged lot lot-1 as it is pledged now")
    assert views.usable_view([stored], released, "lot-1", now_s, 10.0) == (stored, None)  # the value needs no EPCs
    other_loan = views.StoredLotView(replace(stored.view, loan_id="loan-9"), "0/4", now_s + 5, stored.price)
    assert views.usable_view([other_loan], book, "lot-1", now_s + 5, 10.0, digest)[0] is None


def test_the_freshest_of_several_sources_is_used():
    """A partition taken over, or a move from one monitor to partitions: the dead source's
    rows stay until dropped; the freshest judged view decides."""
    *_, (book, state, now_s) = states("verified", minutes=4)
    stored = stored_from(state, book, now_s)
    dead = views.StoredLotView(replace(stored.view, unverified="lot unverified: gateway offline since 0 s"),
                               "1/4", now_s - 600, stored.price)
    fresh = replace(stored, source="1/8")
    assert views.usable_view([dead, fresh], book, "lot-1", now_s, 10.0)[0] == fresh
    assert views.usable_view([dead], book, "lot-1", now_s, 10.0)[0] is None


def test_what_a_release_is_decided_on_is_stored_at_once_what_is_shown_at_most_every_minute():
    *_, (book, state, now_s) = states("verified", minutes=4)
    last = stored_from(state, book, now_s).view
    assert views.must_store(None, last)
    assert not views.must_store(last, replace(last, as_of_s=now_s + 2))
    heavier = replace(last, weight_net_kg=(last.weight_net_kg or 0) + 0.4, as_of_s=now_s + 2)
    assert not views.must_store(last, heavier)
    assert views.must_store(last, replace(heavier, as_of_s=now_s + views.DISPLAY_EVERY_S))
    for change in ({"unverified": "lot unverified: rfid dead since 1 s"}, {"critical": "unauthorized_removal"},
                   {"missing": b"\x01"}, {"rfid_ok": False}, {"loan_id": None}, {"pledge_digest": "0" * 32},
                   {"quality": Decimal("0.9")}):
        assert views.must_store(last, replace(last, as_of_s=now_s + 2, **change)), change


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=3000), st.data())
def test_missing_epcs_travel_as_bits_over_the_sorted_pledge(items, data):
    order = tuple(sorted(f"E{n:024X}" for n in range(items)))
    missing = frozenset(data.draw(st.sets(st.sampled_from(order), max_size=min(items, 50))))
    bits = views.missing_bits(order, missing | {"NOT-PLEDGED"})
    assert len(bits) <= (items + 7) // 8 and (bits == b"") == (not missing)
    assert views.missing_of(order, bits) == missing


def test_ten_thousand_items_all_missing_take_1250_bytes_and_bits_beyond_the_pledge_are_refused():
    order = tuple(f"E{n:024X}" for n in range(10_000))
    bits = views.missing_bits(order, order)
    assert len(bits) == 1250 and views.missing_of(order, bits) == frozenset(order)
    with pytest.raises(ValueError):
        views.missing_of(order[:9_999], bits)


def test_a_lot_not_judged_has_no_view_and_a_rfid_without_reads_shows_nothing_present():
    book = registry(lots=[GOODS])
    assert views.lot_release_view(MonitorState(), book, "lot-1", "d", None, 0) is None
    blind = LotSample("lot-1", 0.0, None, GOODS.total_weight_kg)
    state = monitor.step(MonitorState(), book, [message("gw-1", 0, blind)], Market((tick(5000, 0),)), 0, CONFIG).state
    stored = stored_from(state, book, 0)
    assert stored.view.rfid_ok is False
    assert views.stored_present(stored, book.pledged_epcs["lot-1"], views.pledge_order(GOODS.epcs)) == frozenset()
