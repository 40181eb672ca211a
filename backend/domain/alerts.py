"""Alerts: one per episode, open → acknowledged → resolved, with deterministic ids.

Detectors report *conditions* (a problem seen now, keyed by type and subject). The book
turns a stream of conditions into alerts: a condition of a noisy type must hold for the
confirmation window before its alert opens, and must stay absent for the clear window
before it resolves (hysteresis). One loss seen another way (a shortfall by weight that the
returning reader shows as missing tags) is handed over: the old loss alert stays active
while the new loss condition is being confirmed, so the episode shows no gap that reads as
a recovery. Notices (a refused pledge, a cured margin call) are
one-off happenings: they open at once and stay open until a person resolves them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Iterable, Literal, Mapping

ALERT_TYPES = (
    "stock_shortfall", "unauthorized_removal", "weight_count_mismatch", "double_pledge_attempt",
    "tag_conflict", "ltv_warning", "margin_call", "liquidation", "ltv_cured", "price_stale",
    "price_outlier", "temperature_excursion", "sensor_fault", "gateway_offline",
    "monitoring_blind", "tamper_detected", "clock_skew", "collateral_unverified",
)
Severity = Literal["info", "warning", "critical"]
AlertState = Literal["open", "acknowledged", "resolved"]


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Policy:
    severity: Severity
    confirmed: bool = False     # must hold for the confirmation window (noisy measurements)
    notice: bool = False        # a one-off happening; resolved by a person


POLICIES: Mapping[str, Policy] = MappingProxyType({
    "stock_shortfall": Policy("critical", confirmed=True),
    "unauthorized_removal": Policy("critical", confirmed=True),
    "weight_count_mismatch": Policy("critical", confirmed=True),
    "double_pledge_attempt": Policy("critical", notice=True),
    "tag_conflict": Policy("critical", confirmed=True),
    "ltv_warning": Policy("warning"),
    "margin_call": Policy("critical"),
    "liquidation": Policy("critical"),
    "ltv_cured": Policy("info", notice=True),
    "price_stale": Policy("warning"),
    "price_outlier": Policy("warning"),
    "temperature_excursion": Policy("warning", confirmed=True),
    "sensor_fault": Policy("warning"),
    "gateway_offline": Policy("warning"),
    "monitoring_blind": Policy("critical", confirmed=True),
    "tamper_detected": Policy("critical"),
    "clock_skew": Policy("warning"),
    "collateral_unverified": Policy("critical", confirmed=True),
})
LOSS_TYPES = frozenset({"stock_shortfall", "unauthorized_removal", "weight_count_mismatch"})


@dataclass(frozen=True, slots=True)
class Condition:
    """A problem seen now. `subject` is what it is about (a lot, gateway, loan, commodity)."""

    type: str
    subject: str
    loan: str | None = None
    lot: str | None = None
    lender: str | None = None
    gateway: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)
    certain: bool = False       # a fact, not a measurement (a physical count): no window

    def __post_init__(self) -> None:
        if self.type not in POLICIES:
            raise ValueError(f"unknown alert type {self.type!r}")

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.subject)


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    type: str
    severity: Severity
    state: AlertState
    opened_at_s: int
    resolved_at_s: int | None
    acknowledged_at_s: int | None
    loan: str | None
    lot: str | None
    lender: str | None
    gateway: str | None
    details: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class AlertOpened:
    alert: Alert
    matches: tuple[Any, ...] = ()   # cases like its episode (case_features.CaseMatch), attached by the monitor


@dataclass(frozen=True, slots=True)
class AlertResolved:
    alert: Alert


@dataclass(frozen=True, slots=True)
class AlertBook:
    active: Mapping[tuple[str, str], Alert] = field(default_factory=_empty)   # open or acknowledged
    pending_since: Mapping[tuple[str, str], int] = field(default_factory=_empty)  # seen, not confirmed
    absent_since: Mapping[tuple[str, str], int] = field(default_factory=_empty)   # active, not seen


def alert_id(condition_type: str, subject: str, opened_at_s: int) -> str:
    """Same episode, same id: a hash of what, about what, and when it opened."""
    digest = hashlib.sha256(f"{condition_type}|{subject}|{opened_at_s}".encode()).hexdigest()
    return f"al-{digest[:16]}"


def _open(condition: Condition, now_s: int) -> Alert:
    return Alert(
        id=alert_id(condition.type, condition.subject, now_s), type=condition.type,
        severity=POLICIES[condition.type].severity, state="open", opened_at_s=now_s,
        resolved_at_s=None, acknowledged_at_s=None, loan=condition.loan, lot=condition.lot,
        lender=condition.lender, gateway=condition.gateway,
        details=MappingProxyType(dict(condition.details)))


def update(book: AlertBook, conditions: Iterable[Condition], now_s: int,
           confirmation_s: int, clear_s: int) -> tuple[AlertBook, list[object]]:
    """Advance the book to `now_s` given every condition seen now (notices included)."""
    seen = {condition.key: condition for condition in conditions}
    active, pending, absent = dict(book.active), {}, {}
    events: list[object] = []
    for key, condition in seen.items():
        if key in active:
            continue
        policy = POLICIES[condition.type]
        first_seen_s = book.pending_since.get(key, now_s)
        if (policy.notice or not policy.confirmed or condition.certain
                or now_s - first_seen_s >= confirmation_s):
            active[key] = _open(condition, now_s)
            events.append(AlertOpened(active[key]))
        else:
            pending[key] = first_seen_s
    _carry_losses(book, seen, pending)
    for key, alert in book.active.items():
        if key in seen or POLICIES[alert.type].notice or _handing_over(alert, key, pending):
            continue
        gone_since_s = book.absent_since.get(key, now_s)
        wait_s = clear_s if POLICIES[alert.type].confirmed else 0
        if now_s - gone_since_s >= wait_s:
            del active[key]
            events.append(AlertResolved(replace(alert, state="resolved", resolved_at_s=now_s)))
        else:
            absent[key] = gone_since_s
    return AlertBook(MappingProxyType(active), MappingProxyType(pending),
                     MappingProxyType(absent)), events


def _carry_losses(book: AlertBook, seen: Mapping[tuple[str, str], Condition],
                  pending: dict[tuple[str, str], int]) -> None:
    """A loss not yet alerted keeps its start while its subject shows a loss in another form
    (a missed tag read turns a weight shortfall into a missing tag for one step): the evidence
    went on, so its confirmation window does not start again. Once a loss alert is open on
    the subject, the loss is told: nothing is carried (no second alert for one theft)."""
    for key, since_s in book.pending_since.items():
        if key not in seen and key[0] in LOSS_TYPES and any(
                (kind, key[1]) in seen for kind in LOSS_TYPES if kind != key[0]) and not any(
                (kind, key[1]) in book.active for kind in LOSS_TYPES):
            pending[key] = since_s


def _handing_over(alert: Alert, key: tuple[str, str], pending: Mapping[tuple[str, str], int]) -> bool:
    """A loss alert whose subject shows another loss, not yet confirmed: it stays active."""
    return alert.type in LOSS_TYPES and bool(pending) and any(
        (kind, key[1]) in pending for kind in LOSS_TYPES if kind != alert.type)


def _find(book: AlertBook, alert_id_: str) -> tuple[tuple[str, str], Alert]:
    for key, alert in book.active.items():
        if alert.id == alert_id_:
            return key, alert
    raise KeyError(f"no active alert {alert_id_!r}")


def acknowledge(book: AlertBook, alert_id_: str, now_s: int) -> AlertBook:
    """A person has seen the alert; it stays active until its condition clears."""
    key, alert = _find(book, alert_id_)
    acked = replace(alert, state="acknowledged", acknowledged_at_s=now_s)
    return replace(book, active=MappingProxyType({**book.active, key: acked}))


def resolve(book: AlertBook, alert_id_: str, now_s: int) -> tuple[AlertBook, Alert]:
    """A person closes an alert (the only way a notice ends)."""
    key, alert = _find(book, alert_id_)
    active = {k: a for k, a in book.active.items() if k != key}
    absent = {k: t for k, t in book.absent_since.items() if k != key}
    closed = replace(alert, state="resolved", resolved_at_s=now_s)
    return replace(book, active=MappingProxyType(active),
                   absent_since=MappingProxyType(absent)), closed
