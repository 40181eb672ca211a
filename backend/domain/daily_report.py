"""A bank's daily collateral report: its book at one moment and what happened to it that day.

Pure: the service brings the registry, the loans' standings and status history, the alerts,
inspections and price marks; the moment (`as_of_s`) is given. The renderers
(backend/adapters/report_render.py) turn the content into HTML and PDF in the bank's locale.
Money stays Decimal here, to the cent in the loan's currency.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping, Protocol, Sequence

from backend.domain.inspections import Inspection
from backend.domain.observations import PriceTick
from backend.domain.registry import Loan, Registry

CENT = Decimal("0.01")
# Alerts that say the monitoring itself failed: the report lists them as gaps in the watch.
MONITORING_GAPS = ("gateway_offline", "monitoring_blind", "sensor_fault")
DETAIL_ITEMS_SHOWN = 8  # a long list in an alert's details (missing EPCs) is cut to this many


class StandingFacts(Protocol):
    """Where the monitor last judged a loan to stand (backend.ports.monitor.StandingRecord)."""
    @property
    def status(self) -> str: ...
    @property
    def ltv(self) -> Decimal | None: ...
    @property
    def collateral_value(self) -> Decimal | None: ...
    @property
    def market_value(self) -> Decimal | None: ...
    @property
    def drawing_power(self) -> Decimal | None: ...
    @property
    def cure_amount(self) -> Decimal | None: ...
    @property
    def cure_deadline_s(self) -> float | None: ...
    @property
    def price_stale(self) -> bool: ...


class AlertFacts(Protocol):
    """A stored alert (backend.ports.alerts.AlertRecord)."""
    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def opened_at_s(self) -> float: ...
    @property
    def acknowledged_at_s(self) -> float | None: ...
    @property
    def acknowledged_by(self) -> str | None: ...
    @property
    def ack_note(self) -> str | None: ...
    @property
    def resolved_at_s(self) -> float | None: ...
    @property
    def resolved_by(self) -> str | None: ...
    @property
    def loan(self) -> str | None: ...
    @property
    def lot(self) -> str | None: ...
    @property
    def gateway(self) -> str | None: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Window:
    """The report's day, [from_s, to_s) in the bank's time zone, seen at `as_of_s` (<= to_s)."""
    lender: str
    date: str                                  # YYYY-MM-DD
    from_s: float
    to_s: float
    as_of_s: float

    def __post_init__(self) -> None:
        if not self.from_s <= self.as_of_s <= self.to_s:
            raise ValueError(f"the report of {self.date} is seen between its day's start and end")

    def holds(self, at_s: float | None) -> bool:
        """In the day, and known at the report's moment."""
        return at_s is not None and self.from_s <= at_s < self.to_s and at_s <= self.as_of_s

    def known(self, at_s: float | None) -> float | None:
        """`at_s` if it had happened by the report's moment, else None."""
        return at_s if at_s is not None and at_s <= self.as_of_s else None


@dataclass(frozen=True, slots=True)
class LoanLine:
    loan: str
    borrower: str
    currency: str
    lots: tuple[str, ...]
    status: str
    outstanding: Decimal
    market_value: Decimal | None
    lending_value: Decimal | None
    drawing_power: Decimal | None
    ltv: Decimal | None
    warning: Decimal
    margin_call: Decimal
    liquidation: Decimal
    target_ltv: Decimal
    cure_amount: Decimal | None
    cure_deadline_s: float | None
    price_stale: bool
    closed: bool


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    currency: str
    loans: int
    outstanding: Decimal
    market_value: Decimal
    lending_value: Decimal
    drawing_power: Decimal


@dataclass(frozen=True, slots=True)
class StatusChange:
    loan: str
    at_s: float
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class AlertLine:
    id: str
    type: str
    severity: str
    loan: str | None
    lot: str | None
    changes: tuple[str, ...]                   # what happened to it in the day: opened, acknowledged, resolved
    state: str                                 # as of the report's moment
    opened_at_s: float
    acknowledged_at_s: float | None
    acknowledged_by: str | None
    note: str | None
    resolved_at_s: float | None
    resolved_by: str | None
    details: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class InspectionLine:
    lot: str
    loan: str | None
    at_s: float
    items: int
    quantity: Decimal
    note: str


@dataclass(frozen=True, slots=True)
class TaskLine:
    lot: str
    loan: str | None
    reasons: tuple[str, ...]
    deadline_s: float
    state: str


@dataclass(frozen=True, slots=True)
class GapLine:
    """A stretch of the day when part of the bank's collateral was not watched as it should be."""
    type: str
    alert: str
    lot: str | None
    gateway: str | None
    from_s: float                              # clipped to the day
    to_s: float
    ongoing: bool                              # still open at the report's moment

    @property
    def seconds(self) -> float:
        return self.to_s - self.from_s


@dataclass(frozen=True, slots=True)
class PriceLine:
    commodity: str
    price: Decimal
    currency: str
    per_unit: str
    at_s: float
    source: str
    stale: bool


@dataclass(frozen=True, slots=True)
class DailyReport:
    window: Window
    loans: tuple[LoanLine, ...]
    totals: tuple[CurrencyTotal, ...]
    status_changes: tuple[StatusChange, ...]
    alerts: tuple[AlertLine, ...]
    inspections: tuple[InspectionLine, ...]
    open_tasks: tuple[TaskLine, ...]
    gaps: tuple[GapLine, ...]
    prices: tuple[PriceLine, ...]


@dataclass(frozen=True, slots=True)
class DayFacts:
    """What the service loaded for one lender's day (every sequence may hold other lenders' too)."""
    registry: Registry
    standings: Mapping[str, StandingFacts]
    statuses: Mapping[str, Sequence[tuple[float, str]]]  # loan -> (at_s, status), oldest first
    alerts: Sequence[AlertFacts]
    inspections: Sequence[Inspection]  # those recorded in the day
    tasks: Sequence[TaskLine]
    marks: Mapping[str, tuple[PriceTick, str]]  # commodity -> the mark used at as_of, its source


def daily_report(window: Window, facts: DayFacts) -> DailyReport:
    loans = _lender_loans(window, facts.registry)
    loan_ids = {loan.id for loan in loans}
    lots = {lot_id: loan.id for loan in loans for lot_id in loan.lot_ids}
    lines = tuple(_loan_line(loan, facts.standings.get(loan.id)) for loan in loans)
    alerts = [alert for alert in facts.alerts if alert.loan in loan_ids or (alert.loan is None and alert.lot in lots)]
    commodities = sorted({facts.registry.lots[lot].commodity_id for lot in lots if lot in facts.registry.lots})
    return DailyReport(
        window=window, loans=lines, totals=_totals(lines),
        status_changes=tuple(change for loan in loans for change in _changes(loan.id, facts.statuses.get(loan.id, ()),
                                                                             window)),
        alerts=tuple(line for line in (_alert_line(alert, window) for alert in _by_time(alerts)) if line.changes),
        inspections=tuple(InspectionLine(count.lot_id, lots[count.lot_id], count.at_s, count.items, count.quantity,
                                         count.note)
                          for count in sorted(facts.inspections, key=lambda count: count.at_s)
                          if count.lot_id in lots and window.holds(count.at_s)),
        open_tasks=tuple(task for task in facts.tasks if task.lot in lots and task.state != "done"),
        gaps=tuple(gap for gap in (_gap(alert, window) for alert in _by_time(alerts)) if gap is not None),
        prices=tuple(_price_line(commodity, facts, window) for commodity in commodities if commodity in facts.marks))


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT)


def _lender_loans(window: Window, registry: Registry) -> list[Loan]:
    """The lender's loans open at some time in the day, by id."""
    return sorted((loan for loan in registry.loans.values() if loan.lender_id == window.lender
                   and (loan.closed_at_s is None or loan.closed_at_s >= window.from_s)), key=lambda loan: loan.id)


def _loan_line(loan: Loan, standing: StandingFacts | None) -> LoanLine:
    def money(value: Decimal | None) -> Decimal | None:
        return None if value is None else cents(value)
    return LoanLine(
        loan=loan.id, borrower=loan.borrower_id, currency=loan.currency, lots=loan.lot_ids,
        status=standing.status if standing else "normal", outstanding=cents(loan.outstanding),
        market_value=money(standing.market_value) if standing else None,
        lending_value=money(standing.collateral_value) if standing else None,
        drawing_power=money(standing.drawing_power) if standing else None,
        ltv=standing.ltv if standing else None, warning=loan.thresholds.warning,
        margin_call=loan.thresholds.margin_call, liquidation=loan.thresholds.liquidation, target_ltv=loan.target_ltv,
        cure_amount=money(standing.cure_amount) if standing else None,
        cure_deadline_s=standing.cure_deadline_s if standing else None,
        price_stale=standing.price_stale if standing else False, closed=loan.closed_at_s is not None)


def _totals(lines: Iterable[LoanLine]) -> tuple[CurrencyTotal, ...]:
    """Sums per currency (never across currencies); a figure not known yet counts as 0."""
    by_currency: dict[str, list[LoanLine]] = {}
    for line in lines:
        by_currency.setdefault(line.currency, []).append(line)

    def total(group: list[LoanLine], name: str) -> Decimal:
        return sum((getattr(line, name) or Decimal(0) for line in group), Decimal("0.00"))
    return tuple(CurrencyTotal(currency, len(group), total(group, "outstanding"), total(group, "market_value"),
                               total(group, "lending_value"), total(group, "drawing_power"))
                 for currency, group in sorted(by_currency.items()))


def _changes(loan_id: str, statuses: Sequence[tuple[float, str]], window: Window) -> list[StatusChange]:
    """Each change of status inside the day; `statuses` may start before it (the status the day began with)."""
    found, before = [], None
    for at_s, status in statuses:
        if before is not None and status != before and window.holds(at_s):
            found.append(StatusChange(loan_id, at_s, before, status))
        before = status
    return found


def _by_time(alerts: Iterable[AlertFacts]) -> list[AlertFacts]:
    return sorted(alerts, key=lambda alert: (alert.opened_at_s, alert.id))


def _alert_line(alert: AlertFacts, window: Window) -> AlertLine:
    """The alert as it stood at the report's moment (a later acknowledgement is not yet known)."""
    acked, resolved = window.known(alert.acknowledged_at_s), window.known(alert.resolved_at_s)
    changes = tuple(change for change, at_s in (("opened", alert.opened_at_s), ("acknowledged", acked),
                                                ("resolved", resolved)) if window.holds(at_s))
    state = "resolved" if resolved is not None else "acknowledged" if acked is not None else "open"
    return AlertLine(
        id=alert.id, type=alert.type, severity=alert.severity, loan=alert.loan, lot=alert.lot, changes=changes,
        state=state, opened_at_s=alert.opened_at_s, acknowledged_at_s=acked,
        acknowledged_by=alert.acknowledged_by if acked is not None else None,
        note=alert.ack_note if acked is not None else None, resolved_at_s=resolved,
        resolved_by=alert.resolved_by if resolved is not None else None,
        details=tuple((key, detail_text(value)) for key, value in sorted(alert.details.items())))


def detail_text(value: Any) -> str:
    """An alert's detail as one short line: lists cut to DETAIL_ITEMS_SHOWN, with how many more."""
    if isinstance(value, (list, tuple)):
        shown = ", ".join(detail_text(item) for item in value[:DETAIL_ITEMS_SHOWN])
        more = len(value) - DETAIL_ITEMS_SHOWN
        return f"{shown} (+{more})" if more > 0 else shown
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {detail_text(item)}" for key, item in sorted(value.items()))
    return "" if value is None else str(value)


def _gap(alert: AlertFacts, window: Window) -> GapLine | None:
    """A monitoring alert's stretch inside the day (None: not a monitoring alert, or outside the day)."""
    if alert.type not in MONITORING_GAPS:
        return None
    ended = window.known(alert.resolved_at_s)
    from_s, to_s = max(alert.opened_at_s, window.from_s), window.as_of_s if ended is None else ended
    if from_s > window.as_of_s or to_s < from_s:
        return None
    return GapLine(alert.type, alert.id, alert.lot, alert.gateway, from_s, to_s, ongoing=ended is None)


def _price_line(commodity_id: str, facts: DayFacts, window: Window) -> PriceLine:
    tick, source = facts.marks[commodity_id]
    max_age_s = facts.registry.commodities[commodity_id].price_max_age_s
    return PriceLine(commodity_id, tick.price, tick.currency, tick.per_unit, tick.at_s, source,
                     stale=window.as_of_s - tick.at_s > max_age_s)
