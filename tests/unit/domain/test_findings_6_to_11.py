"""Issue 12, findings 6, 7, 8 and 11 on the pure core."""
from decimal import Decimal

from factory import loan, lot, message, registry, tick

from backend.domain import alerts, gateways, monitor, pledges, reconcile
from backend.domain.alerts import AlertBook, AlertOpened, Condition
from backend.domain.config import MonitorConfig
from backend.domain.monitor import Market, MonitorState
from backend.domain.registry import Repayment
from backend.domain.stock import LotView

CONFIG = MonitorConfig()


def test_bad_signatures_beside_trusted_messages_leave_the_gateway_healthy_and_reported():
    track = gateways.GatewayTrack(0)
    for now_s in range(0, 1200, 60):
        track = gateways.track_gateway(track, [message("gw-1", now_s), message("gw-1", now_s, ok=False)],
                                       now_s, CONFIG)
        assert gateways.is_healthy(track, now_s, CONFIG)
    kinds = [c.type for c in gateways.gateway_conditions("gw-1", track, 1140, CONFIG)]
    assert kinds == ["tamper_detected"]


def test_only_bad_signatures_leave_the_gateway_unhealthy():
    track = gateways.track_gateway(gateways.GatewayTrack(0), [message("gw-1", 0)], 0, CONFIG)
    for now_s in range(60, 600, 60):
        track = gateways.track_gateway(track, [message("gw-1", now_s, ok=False)], now_s, CONFIG)
    assert not gateways.is_healthy(track, 540, CONFIG)


def test_a_loan_repaid_to_zero_holds_its_pledge():
    book = registry(lots=[lot("lot-1")], loans=[loan("loan-1"), loan("loan-2", lots=(), lender="bank-b")])
    book = pledges.apply_repayment(book, Repayment("loan-1", Decimal(40_000), 0))
    assert book.loans["loan-1"].outstanding == 0 and book.loan_of_lot["lot-1"] == "loan-1"
    outcome = pledges.pledge_lot(book, "lot-1", "loan-2")
    assert outcome.refused_reason == pledges.ALREADY_PLEDGED
    assert (outcome.notice.loan, outcome.notice.lender) == ("loan-1", "bank-a")


def test_a_pledged_epc_read_under_another_lots_reader_in_the_same_warehouse_is_a_conflict():
    held, other = lot("lot-1"), lot("lot-2")                 # both in wh-1
    book = registry(lots=[held, other], loans=[loan("loan-1", ("lot-1",)),
                                               loan("loan-2", ("lot-2",), lender="bank-b")])
    cloned = frozenset(sorted(held.epcs)[:3])
    view = LotView("lot-2", 20, Decimal(20), 20, Decimal(20), True, True, frozenset(), cloned,
                   20_000.0, 20_000.0, 100.0, 20_100.0)
    [conflict] = reconcile.tag_conflicts(other, view, book)
    assert (conflict.type, conflict.lot, conflict.lender, conflict.details["epcs"]) == (
        "tag_conflict", "lot-1", "bank-a", 3)


def _loss(kind):
    return Condition(kind, "lot-1", loan="loan-1", lot="lot-1")


def test_a_loss_seen_another_way_keeps_its_alert_until_the_new_one_opens():
    book, timeline = AlertBook(), []
    for now_s in range(0, 3000, 60):
        kind = "stock_shortfall" if now_s < 1200 else "unauthorized_removal"
        book, events = alerts.update(book, [_loss(kind)], now_s, 600, 300)
        timeline += [(now_s, type(e).__name__, e.alert.type) for e in events]
    opened = {kind: at for at, name, kind in timeline if name == "AlertOpened"}
    resolved = {kind: at for at, name, kind in timeline if name == "AlertResolved"}
    assert opened == {"stock_shortfall": 600, "unauthorized_removal": 1800}
    assert resolved["stock_shortfall"] >= opened["unauthorized_removal"]


def test_a_loss_that_clears_still_resolves():
    book = AlertBook()
    for now_s in range(0, 2400, 60):
        book, events = alerts.update(book, [_loss("stock_shortfall")] if now_s < 900 else [],
                                     now_s, 600, 300)
    assert book.active == {}


def test_a_loan_booked_before_its_lots_is_not_valued():
    book = registry(lots=[lot("lot-1")], loans=[loan("loan-1", lots=())])
    result = monitor.step(MonitorState(), book, [], Market((tick(5000, 0),)), 0, CONFIG)
    view = result.state.loan_views["loan-1"]
    assert (view.status, view.ltv) == ("normal", None)
    assert not [e for e in result.events if isinstance(e, AlertOpened)]


def _priced_step(book, ticks):
    state = MonitorState()
    for now_s, price in ticks:
        result = monitor.step(state, book, [], Market((tick(price, now_s),)), now_s, CONFIG)
        state = result.state
    return state


def test_a_held_outlier_quote_is_addressed_to_every_lender_it_prices():
    book = registry(lots=[lot("lot-1"), lot("lot-2", warehouse="wh-2")],
                    loans=[loan("loan-1", ("lot-1",)), loan("loan-2", ("lot-2",), lender="bank-b")])
    state = _priced_step(book, [(0, 5000), (60, 500)])
    outliers = [a for a in state.alerts.active.values() if a.type == "price_outlier"]
    assert sorted(a.lender for a in outliers) == ["bank-a", "bank-b"]
    assert {a.details["quoted"] for a in outliers} == {500.0}


def test_the_market_value_is_before_haircut():
    state = _priced_step(registry(), [(0, 5000)])
    view = state.loan_views["loan-1"]
    assert (view.market_value, view.collateral_value) == (Decimal("100000.00"), Decimal("90000.00"))
