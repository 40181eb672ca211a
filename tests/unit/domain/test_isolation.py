"""Issue 12: unpriced collateral is worth 0 and never a crash; one lot's or loan's failure
is reported on it and never stops the monitoring of the rest."""
import random
from dataclasses import replace
from decimal import Decimal

from factory import loan, lot, message, noisy_sample, registry, tick

from backend.domain import monitor
from backend.domain import registry as reg
from backend.domain.alerts import AlertOpened
from backend.domain.config import MonitorConfig
from backend.domain.monitor import Market, MonitorState

CONFIG = MonitorConfig()
STEEL = lot("lot-1", items=20)
NICKEL = replace(lot("lot-2", items=10), commodity_id="nickel")
OTHER = lot("lot-3", items=20, warehouse="wh-2")


def _book(lots, loans, commodities=("nickel",)) -> reg.Registry:
    book = registry(lots=lots, loans=loans)
    extra = {c: reg.Commodity(c, "t", False, None, 3600) for c in commodities}
    return replace(book, commodities={**book.commodities, **extra})


def _run(book, minutes, present=lambda lot_, t: lot_.epcs, start=None, from_minute=0):
    rng, state, events, errors = random.Random(7), start or MonitorState(), [], []
    for minute in range(from_minute, from_minute + minutes):
        now_s = minute * 60
        by_gw = {}
        for goods in book.lots.values():
            gw = book.lot_gateways[goods.id]
            by_gw.setdefault(gw, []).append(noisy_sample(goods, rng, now_s, present(goods, now_s)))
        messages = [message(gw, now_s, *samples) for gw, samples in by_gw.items()]
        result = monitor.step(state, book, messages, Market((tick(5000, now_s),)), now_s, CONFIG)
        state, events, errors = result.state, events + list(result.events), errors + list(result.errors)
    return state, events, errors


def _opened(events):
    return [(e.alert.type, e.alert.loan, e.alert.lot) for e in events if isinstance(e, AlertOpened)]


def test_an_unpriced_top_up_is_worth_zero_and_says_so_while_a_margin_call_runs():
    # 20 t of steel at 5000 × 0.9 = 90,000; 80,000 outstanding: LTV 0.889, margin call.
    book = _book([STEEL, NICKEL], [loan("loan-1", ("lot-1",), outstanding=80_000)])
    state, events, errors = _run(book, 5)
    assert state.loan_views["loan-1"].status == "margin_call"
    topped = replace(book, loans={"loan-1": replace(book.loans["loan-1"], lot_ids=("lot-1", "lot-2"))})
    state, events, errors = _run(topped, 5, start=state, from_minute=5)
    view = state.loan_views["loan-1"]
    assert errors == []
    assert (view.status, view.collateral_value, view.unpriced_lots) == (
        "margin_call", Decimal("90000.00"), ("lot-2",))
    assert view.cure_amount == Decimal(80_000) - Decimal("0.60") * Decimal(90_000)
    stale = [a for a in state.alerts.active.values() if a.type == "price_stale"]
    assert [(a.details["commodity"], a.details["reason"]) for a in stale] == [("nickel", "no price")]


def test_a_loan_with_no_priced_lot_is_not_valued_yet():
    book = _book([NICKEL], [loan("loan-1", ("lot-2",))])
    state, _, errors = _run(book, 3)
    view = state.loan_views["loan-1"]
    assert (view.status, view.ltv, view.collateral_value, view.unpriced_lots) == (
        "normal", None, None, ("lot-2",))
    assert errors == []


def test_a_malformed_lot_is_reported_on_itself_and_every_other_loan_is_still_watched():
    broken = replace(lot("lot-2", items=10), commodity_id="no-such-commodity")
    book = _book([STEEL, broken, OTHER], [loan("loan-1", ("lot-1",)), loan("loan-2", ("lot-2",)),
                                          loan("loan-3", ("lot-3",), lender="bank-b")])
    kept = frozenset(sorted(OTHER.epcs)[:-3])
    state, events, errors = _run(book, 40, present=lambda g, t: kept if g is OTHER and t >= 600
                                 else g.epcs)
    assert {(e.stage, e.subject) for e in errors} == {("reading", "lot-2"), ("lot", "lot-2"),
                                                       ("loan", "loan-2")}
    opened = _opened(events)
    assert ("unauthorized_removal", "loan-3", "lot-3") in opened
    assert ("monitoring_blind", "loan-2", "lot-2") in opened      # the lot, on its loan
    assert ("monitoring_blind", "loan-2", None) in opened         # the loan itself
    assert state.loan_views["loan-1"].collateral_value == Decimal("90000.00")
    blind = next(a for a in state.alerts.active.values() if a.type == "monitoring_blind")
    assert blind.details["reason"] == "evaluation error" and "KeyError" in blind.details["error"]
