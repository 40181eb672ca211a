"""The step's shortcuts for unchanged inputs give exactly what the full computation gives."""
import random
from dataclasses import replace
from decimal import Decimal

from factory import lot, message, noisy_sample, registry, tick
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain import monitor, sensors
from backend.domain.config import MonitorConfig
from backend.domain.monitor import Market, MonitorState
from backend.domain.observations import RfidRound
from backend.domain.pledges import apply_release, apply_repayment
from backend.domain.registry import ReleaseOrder, Repayment
from backend.domain.stock import ValuedQuantity, assess_lot, next_valued

CONFIG = MonitorConfig()
GOODS = lot("lot-1", items=20)


def step(state, book, now_s, price=5000, rng=None):
    sample = noisy_sample(GOODS, rng or random.Random(now_s), now_s)
    messages = [message("gw-1", now_s, sample), message("gw-2", now_s)]
    return monitor.step(state, book, messages, Market((tick(price, now_s),)), now_s, CONFIG).state


def run(book, minutes, price=5000):
    state = MonitorState()
    for minute in range(minutes):
        state = step(state, book, minute * 60, price)
    return state


def test_a_loan_whose_inputs_did_not_change_keeps_its_view():
    book = registry(lots=[GOODS])
    state = run(book, 5)
    again = step(state, book, 300)
    assert again.loan_views["loan-1"] is state.loan_views["loan-1"]


def test_a_kept_view_equals_a_fresh_valuation():
    book = registry(lots=[GOODS])
    state = run(book, 5)
    kept = step(state, book, 300)
    fresh = step(replace(state, valuation_inputs={}), book, 300)
    assert kept.loan_views == fresh.loan_views


def test_a_new_price_or_a_repayment_revalues_the_loan():
    book = registry(lots=[GOODS])
    state = run(book, 5)
    cheaper = step(state, book, 300, price=4000)
    assert cheaper.loan_views["loan-1"].collateral_value == Decimal(20 * 4000 * 0.9)
    repaid = apply_repayment(book, Repayment("loan-1", Decimal(10_000), 300))
    after = step(state, repaid, 300)
    assert after.loan_views["loan-1"].outstanding == 30_000
    assert after.loan_views["loan-1"].ltv == Decimal(30_000) / Decimal(20 * 5000 * 0.9)


def test_an_unchanged_valued_quantity_is_kept():
    book = registry(lots=[GOODS])
    view = run(book, 5).lot_views["lot-1"]
    previous = ValuedQuantity(view.pledged_quantity)
    assert next_valued(previous, view, 300, 600) is previous
    lower = ValuedQuantity(view.pledged_quantity + 1, lower_since_s=None)
    assert next_valued(lower, view, 300, 600) == ValuedQuantity(view.pledged_quantity, 300)


def test_pledged_epcs_are_the_lots_own_set_until_a_release():
    book = registry(lots=[GOODS])
    assert book.pledged_epcs["lot-1"] is GOODS.epcs
    gone = frozenset(sorted(GOODS.epcs)[-2:])
    released = apply_release(book, ReleaseOrder("r1", "loan-1", "lot-1", gone, "bank-a",
                                                Decimal(0), 0))
    assert released.pledged_epcs["lot-1"] == GOODS.epcs - gone


def test_lively_sensors_raise_nothing_and_a_repeating_one_is_still_stuck():
    state = run(registry(lots=[GOODS]), 5)
    track, gateway = state.lots["lot-1"], state.gateways["gw-1"]
    args = ("gw-1", gateway, 240, CONFIG)
    assert sensors.sensor_conditions(GOODS, track.rfid, track.scale, track.probe, *args) == []
    stuck_probe = track.probe._replace(repeats=CONFIG.stuck_after_readings)
    raised = sensors.sensor_conditions(GOODS, track.rfid, track.scale, stuck_probe, *args)
    assert [(c.type, c.details["sensor"], c.details["mode"]) for c in raised] == \
        [("sensor_fault", "temperature", "stuck")]


def _rounds_read_exactly(rounds, epcs):
    newest, *older = [r.epcs for r in rounds]
    return newest.union(*older) == epcs


def _in_order(rfid_round):
    """The same round as a reader that knows the lot's EPC order reports it."""
    own = rfid_round.epcs & GOODS.epcs
    return RfidRound(rfid_round.epcs - own, rfid_round.round_at_s, GOODS.bits_of(own),
                     GOODS.epc_order)


def test_a_round_in_the_lots_order_reads_the_same_epcs_as_by_name():
    read = frozenset(sorted(GOODS.epcs)[3:]) | {"lot-9-0001"}
    by_name = RfidRound(read, 60.0)
    assert by_name.epcs is read
    assert _in_order(by_name).epcs == read
    assert _in_order(by_name).bits.bit_count() == len(GOODS.epcs) - 3


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=10**6))
def test_the_usual_lot_read_window_test_answers_as_merging_its_rounds(seed):
    """Rounds by name or in the lot's order, missing tags, reading a foreign one or
    repeating, and a release half-way: at every step the usual-lot test agrees with merging
    the window's rounds."""
    rng = random.Random(seed)
    book = registry(lots=[GOODS])
    foreign = "lot-9-0001"
    state, answers, present = MonitorState(), set(), GOODS.epcs
    for minute in range(60):
        now_s = minute * 60
        if minute == 30:                       # released goods leave at once
            gone = frozenset(sorted(GOODS.epcs)[-3:])
            book = apply_release(book, ReleaseOrder("r1", "loan-1", "lot-1", gone, "bank-a",
                                                    Decimal(0), now_s))
            present = GOODS.epcs - gone
        sample = noisy_sample(GOODS, rng, now_s, present,
                              read_rate=rng.choice([0.9, 0.99, 1.0]))
        if rng.random() < 0.1:
            sample = sample._replace(rfid=RfidRound(sample.rfid.epcs | {foreign}, now_s))
        if rng.random() < 0.5:
            sample = sample._replace(rfid=_in_order(sample.rfid))
        if rng.random() < 0.1 and minute:
            sample = sample._replace(rfid=state.lots["lot-1"].rfid.rounds[-1])   # a repeat
        messages = [message("gw-1", now_s, sample), message("gw-2", now_s)]
        state = monitor.step(state, book, messages, Market((tick(5000, now_s),)), now_s,
                             CONFIG).state
        rfid, pledged = state.lots["lot-1"].rfid, book.pledged_epcs["lot-1"]
        answer = monitor._window_is(rfid.rounds, GOODS, book.pledged_bits["lot-1"])
        assert answer == _rounds_read_exactly(rfid.rounds, pledged)
        answers.add(answer)
    assert answers == {True, False}


def test_a_usual_lots_view_is_the_one_assess_lot_builds():
    book = registry(lots=[GOODS])
    state = run(book, 5)
    rfid = state.lots["lot-1"].rfid
    assert monitor._window_is(rfid.rounds, GOODS, book.pledged_bits["lot-1"])
    full = assess_lot(GOODS, book, rfid, state.lots["lot-1"].scale, None, 240, CONFIG)
    assert state.lot_views["lot-1"] == full


def test_a_lot_seen_whole_keeps_its_valued_quantity():
    book = registry(lots=[GOODS])
    state = run(book, 5)
    again = step(state, book, 300)
    kept = again.valued["lot-1"]
    assert kept is state.valued["lot-1"]
    assert kept == next_valued(state.valued["lot-1"], again.lot_views["lot-1"], 300, 600)
