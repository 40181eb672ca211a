"""The daily report's content: one lender's book, its day's changes seen at the report's moment."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

import pytest
from factory import loan, lot, registry, tick

from backend.domain import daily_report as dr
from backend.domain.inspections import Inspection

DAY_S = 1_800_000_000.0  # the day's midnight
NOON = DAY_S + 12 * 3600


@dataclass(frozen=True)
class Standing:
    status: str
    ltv: Decimal | None
    collateral_value: Decimal | None
    market_value: Decimal | None
    drawing_power: Decimal | None
    cure_amount: Decimal | None = None
    cure_deadline_s: float | None = None
    price_stale: bool = False


@dataclass(frozen=True)
class Alert:
    id: str
    type: str
    opened_at_s: float
    loan: str | None = "loan-1"
    lot: str | None = "lot-1"
    severity: str = "critical"
    acknowledged_at_s: float | None = None
    acknowledged_by: str | None = None
    ack_note: str | None = None
    resolved_at_s: float | None = None
    resolved_by: str | None = None
    gateway: str | None = "gw-1"
    details: Mapping[str, Any] = field(default_factory=dict)


def book(alerts=(), statuses=None, inspections=()) -> dr.DayFacts:
    loans = [loan("loan-1", ("lot-1",), 40_000), loan("loan-2", ("lot-2",), 10_000),
             loan("loan-9", ("lot-9",), 99_000, lender="bank-b")]
    standings = {"loan-1": Standing("margin_call", Decimal("0.8333"), Decimal("48000.004"), Decimal("53333.335"),
                                    Decimal("-11200"), Decimal("12000.5"), NOON + 3600),
                 "loan-9": Standing("normal", Decimal("0.5"), Decimal(1), Decimal(1), Decimal(1))}
    return dr.DayFacts(registry=registry([lot("lot-1"), lot("lot-2"), lot("lot-9")], loans), standings=standings,
                       statuses=statuses or {}, alerts=list(alerts), inspections=list(inspections), tasks=[],
                       marks={"steel": (tick(2400, DAY_S - 7200), "lme")})


def window(as_of_s: float = NOON) -> dr.Window:
    return dr.Window("bank-a", "2027-01-15", DAY_S, DAY_S + 86_400, as_of_s)


def test_the_lenders_loans_to_the_cent_with_totals_per_currency():
    report = dr.daily_report(window(), book())
    assert [line.loan for line in report.loans] == ["loan-1", "loan-2"]  # bank-b's loan is not there
    first = report.loans[0]
    assert (first.outstanding, first.lending_value, first.market_value, first.drawing_power, first.cure_amount) == (
        Decimal("40000.00"), Decimal("48000.00"), Decimal("53333.34"), Decimal("-11200.00"), Decimal("12000.50"))
    assert (first.status, first.warning, first.liquidation) == ("margin_call", Decimal("0.70"), Decimal("0.90"))
    assert report.loans[1].status == "normal" and report.loans[1].lending_value is None  # not judged yet
    [total] = report.totals
    assert (total.currency, total.loans, total.outstanding, total.lending_value) == (
        "CNY", 2, Decimal("50000.00"), Decimal("48000.00"))


def test_status_changes_of_the_day_only_from_the_status_it_began_with():
    statuses = {"loan-1": [(DAY_S - 60, "warning"), (DAY_S + 60, "warning"), (DAY_S + 3600, "margin_call"),
                           (NOON + 60, "liquidation")]}
    report = dr.daily_report(window(), book(statuses=statuses))
    assert [(c.loan, c.at_s, c.before, c.after) for c in report.status_changes] == [
        ("loan-1", DAY_S + 3600, "warning", "margin_call")]  # after the report's moment: not yet known


def test_alerts_say_what_happened_to_them_that_day_as_known_at_its_moment():
    alerts = [Alert("al-old", "margin_call", DAY_S - 7200, acknowledged_at_s=DAY_S + 600, acknowledged_by="li",
                    ack_note="called"),
              Alert("al-new", "unauthorized_removal", DAY_S + 3600, resolved_at_s=NOON + 60, resolved_by="wang",
                    details={"missing_epcs": [f"e{n}" for n in range(10)], "missing_items": 10}),
              Alert("al-quiet", "stock_shortfall", DAY_S - 7200),
              Alert("al-other", "margin_call", DAY_S + 60, loan="loan-9", lot="lot-9")]
    report = dr.daily_report(window(), book(alerts=alerts))
    by_id = {line.id: line for line in report.alerts}
    assert set(by_id) == {"al-old", "al-new"}  # nothing happened to al-quiet; al-other is bank-b's
    assert (by_id["al-old"].changes, by_id["al-old"].state, by_id["al-old"].note) == (
        ("acknowledged",), "acknowledged", "called")
    assert (by_id["al-new"].changes, by_id["al-new"].state, by_id["al-new"].resolved_by) == (
        ("opened",), "open", None)  # resolved after the moment
    assert dict(by_id["al-new"].details)["missing_epcs"] == "e0, e1, e2, e3, e4, e5, e6, e7 (+2)"


def test_monitoring_gaps_are_clipped_to_the_day_and_the_moment():
    alerts = [Alert("al-blind", "monitoring_blind", DAY_S - 3600, resolved_at_s=DAY_S + 1800),
              Alert("al-fault", "sensor_fault", NOON - 600),
              Alert("al-removal", "unauthorized_removal", DAY_S + 60)]
    gaps = dr.daily_report(window(), book(alerts=alerts)).gaps
    assert [(g.alert, g.from_s, g.to_s, g.ongoing, g.seconds) for g in gaps] == [
        ("al-blind", DAY_S, DAY_S + 1800, False, 1800), ("al-fault", NOON - 600, NOON, True, 600)]


def test_inspections_of_the_lenders_lots_and_the_price_marks_used():
    counts = [Inspection("lot-1", 19, Decimal(19), DAY_S + 60, note="one short"),
              Inspection("lot-9", 20, Decimal(20), DAY_S + 60), Inspection("lot-2", 20, Decimal(20), DAY_S - 60)]
    report = dr.daily_report(window(), book(inspections=counts))
    assert [(i.lot, i.loan, i.items, i.note) for i in report.inspections] == [("lot-1", "loan-1", 19, "one short")]
    [price] = report.prices
    assert (price.commodity, price.price, price.source, price.stale) == ("steel", Decimal(2400), "lme", True)


def test_a_window_ends_no_later_than_its_day():
    with pytest.raises(ValueError):
        dr.Window("bank-a", "2027-01-15", DAY_S, DAY_S + 86_400, DAY_S + 86_401)
