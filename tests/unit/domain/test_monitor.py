"""The step function end to end, on hand-made observations."""
import random
from decimal import Decimal

from factory import loan, lot, message, noisy_sample, registry, tick
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain import monitor
from backend.domain.alerts import AlertOpened
from backend.domain.config import MonitorConfig
from backend.domain.monitor import Market, MonitorState
from backend.domain.observations import LotSample
from backend.domain.pledges import apply_release
from backend.domain.registry import ReleaseOrder

CONFIG = MonitorConfig()
GOODS = lot("lot-1", items=20)


def drive(book, minutes, sample_at, seed=0, price_at=lambda t: 5000, start_state=None):
    """Run `minutes` steps; sample_at(now_s, rng) → LotSample or None. Returns state, opened."""
    rng, state, opened = random.Random(seed), start_state or MonitorState(), []
    for minute in range(minutes):
        now_s = minute * 60
        sample = sample_at(now_s, rng)
        messages = [message("gw-1", now_s, sample)] if sample else []
        messages.append(message("gw-2", now_s))
        price = price_at(now_s)
        ticks = (tick(price, now_s),) if price is not None else ()
        result = monitor.step(state, book, messages, Market(ticks), now_s, CONFIG)
        state = result.state
        opened += [(now_s, e.alert.type) for e in result.events if isinstance(e, AlertOpened)]
    return state, opened


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=10**6))
def test_a_noise_only_history_raises_no_alert(seed):
    book = registry(lots=[GOODS])
    _, opened = drive(book, 240, lambda t, rng: noisy_sample(GOODS, rng, t), seed)
    assert opened == []


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=1, max_value=19), st.integers(min_value=0, max_value=10**6))
def test_an_approved_release_never_turns_its_removal_into_an_alert(count, seed):
    book = registry(lots=[GOODS], loans=[loan(outstanding=1_000)])  # LTV stays low even at 1 item
    released = frozenset(sorted(GOODS.epcs)[-count:])
    book = apply_release(book, ReleaseOrder("r1", "loan-1", "lot-1", released, "bank-a",
                                            Decimal(0), 0))
    still_here = GOODS.epcs - released
    _, opened = drive(book, 120, lambda t, rng: noisy_sample(
        GOODS, rng, t, present=GOODS.epcs if t < 1800 else still_here), seed)
    assert opened == []


def test_removal_without_release_is_flagged_within_fifteen_minutes_and_once():
    book = registry(lots=[GOODS])
    kept = frozenset(sorted(GOODS.epcs)[:-3])
    state, opened = drive(book, 120, lambda t, rng: noisy_sample(
        GOODS, rng, t, present=GOODS.epcs if t < 1800 else kept))
    assert [kind for _, kind in opened] == ["unauthorized_removal"]
    assert 1800 < opened[0][0] <= 1800 + 900
    assert state.lot_views["lot-1"].observed_items == 17


def test_every_tag_present_but_weight_gone_is_a_weight_count_mismatch():
    book = registry(lots=[GOODS], loans=[loan(outstanding=10_000)])  # half the value still covers it
    _, opened = drive(book, 60, lambda t, rng: noisy_sample(
        GOODS, rng, t, weight_kg=20_000.0 if t < 600 else 10_000.0))
    assert [kind for _, kind in opened] == ["weight_count_mismatch"]
    assert opened[0][0] <= 600 + 900


def test_without_rfid_a_weight_loss_is_a_stock_shortfall_and_a_dead_reader():
    book = registry(lots=[GOODS])

    def sample(t, rng):
        full = noisy_sample(GOODS, rng, t, weight_kg=20_000.0 if t < 1200 else 15_000.0)
        return LotSample(full.lot_id, t, None if t >= 600 else full.rfid, full.weight_kg,
                         full.temperature_c)
    _, opened = drive(book, 60, sample)
    assert sorted(kind for _, kind in opened) == ["collateral_unverified", "sensor_fault",
                                                  "stock_shortfall"]


def test_a_silent_gateway_is_offline_not_a_theft():
    book = registry(lots=[GOODS])
    state, opened = drive(book, 90, lambda t, rng: noisy_sample(GOODS, rng, t) if t < 1800 else None)
    assert [kind for _, kind in opened] == ["gateway_offline", "collateral_unverified"]
    assert state.loan_views["loan-1"].status == "normal"   # within the unverified grace


def test_failed_signatures_are_tampering_and_their_readings_are_not_believed():
    book = registry(lots=[GOODS])
    rng, state, opened = random.Random(3), MonitorState(), []
    for minute in range(40):
        now_s = minute * 60
        forged = 1200 <= now_s < 1800
        present = frozenset() if forged else GOODS.epcs     # the forger claims the lot is empty
        sample = noisy_sample(GOODS, rng, now_s, present=present)
        result = monitor.step(state, book, [message("gw-1", now_s, sample, ok=not forged),
                                            message("gw-2", now_s)],
                              Market((tick(5000, now_s),)), now_s, CONFIG)
        state = result.state
        opened += [e.alert.type for e in result.events if isinstance(e, AlertOpened)]
    # ten minutes without a trusted reading also leave the lot unverified (issue 12)
    assert opened == ["tamper_detected", "collateral_unverified"]


def test_a_stale_price_is_reported_and_never_breaches_ltv_by_itself():
    book = registry(lots=[GOODS])          # price max age 1 h
    state, opened = drive(book, 150, lambda t, rng: noisy_sample(GOODS, rng, t),
                          price_at=lambda t: 5000 if t < 600 else None)
    assert [kind for _, kind in opened] == ["price_stale"]
    assert 600 + 3600 <= opened[0][0] <= 600 + 3600 + 900
    view = state.loan_views["loan-1"]
    assert (view.status, view.price_stale) == ("normal", True)


def test_a_price_fall_raises_the_ltv_alerts_in_order():
    book = registry(lots=[GOODS], loans=[loan(outstanding=60_000)])   # 20 t, haircut 10 %
    # LTV 0.667 at 5000; 0.709 at 4700; 0.833 at 4000; 0.926 at 3600 (no move is an outlier)
    prices = lambda t: 5000 if t < 600 else (4700 if t < 1200 else (4000 if t < 1800 else 3600))
    state, opened = drive(book, 40, lambda t, rng: noisy_sample(GOODS, rng, t), price_at=prices)
    assert opened == [(600, "ltv_warning"), (1200, "margin_call"), (1800, "liquidation")]
    assert state.loan_views["loan-1"].cure_deadline_s == 1200 + 3600


def test_a_single_wild_tick_is_an_outlier_not_a_margin_call():
    book = registry(lots=[GOODS])
    prices = lambda t: 500 if t == 600 else 5000
    state, opened = drive(book, 30, lambda t, rng: noisy_sample(GOODS, rng, t), price_at=prices)
    assert [kind for _, kind in opened] == ["price_outlier"]
    assert state.loan_views["loan-1"].status == "normal"


def test_perishables_lose_value_with_degree_minutes_above_their_limit():
    book = registry(lots=[GOODS], perishable=True)      # limit −18 °C, loss 0.0001 per °C·min
    state, opened = drive(book, 70, lambda t, rng: noisy_sample(
        GOODS, rng, t, temperature_c=-8.0 if 600 <= t < 3000 else -22.0))
    assert [kind for _, kind in opened] == ["temperature_excursion"]
    value = state.loan_views["loan-1"].collateral_value
    assert Decimal(20 * 5000 * 0.9 * 0.95) < value < Decimal(20 * 5000 * 0.9 * 0.98)
