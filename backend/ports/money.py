"""Ports of the money side of a loan: repayments (pending until the lender confirms),
drawdowns, posted interest, closing; and requests to change its collateral (top-ups and
substitutions, pending until the lender approves).

Every write that moves the outstanding amount is conditional on the amount it was decided
on (`outstanding_before`): when another write moved it first, the store raises `Stale` and
changes nothing, and the service decides again on the new amount. So two drawdowns racing
for the last drawing power never both succeed. Each write queues its bank notices in its
own transaction, and appends its log entries (backend/domain/evidence_book.py) in it too.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol, Sequence

from backend.domain.evidence import Entry
from backend.domain.money import InterestPosting
from backend.domain.notices import BankNotice

RequestKind = Literal["pledge", "substitution"]


class Stale(Exception):
    """The row changed since it was read (a decision taken, the outstanding amount moved)."""


@dataclass(frozen=True, slots=True)
class RepaymentRecord:
    id: str
    loan_id: str
    amount: Decimal
    at_s: float                                # when it was entered
    state: str                                 # pending | confirmed | rejected
    entered_by: str
    decided_by: str | None = None
    decided_at_s: float | None = None
    reason: str | None = None                  # a rejection's


@dataclass(frozen=True, slots=True)
class CollateralRequest:
    """Pledge `pledge_lot` to the loan (a top-up), releasing `release_lot` (a substitution)."""
    id: str
    loan_id: str
    kind: RequestKind
    pledge_lot: str
    release_lot: str | None
    at_s: float
    requested_by: str
    state: str                                 # pending | approved | rejected
    decided_by: str | None = None
    decided_at_s: float | None = None
    reason: str | None = None                  # why it was refused


@dataclass(frozen=True, slots=True)
class Drawdown:
    id: str
    loan_id: str
    amount: Decimal
    by: str
    at_s: float


class MoneyStore(Protocol):
    def repayments(self, loan_id: str) -> list[RepaymentRecord]:
        """The loan's repayments, oldest first."""

    def repayment(self, repayment_id: str) -> RepaymentRecord | None: ...

    def drawdowns(self, loan_id: str) -> list[Drawdown]:
        """The loan's drawdowns, oldest first."""

    def interest_postings(self, loan_id: str) -> list[InterestPosting]:
        """The interest posted to the loan, oldest first."""

    def enter_repayment(self, record: RepaymentRecord, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        """A pending repayment: it changes nothing else."""

    def settle_repayment(self, record: RepaymentRecord, outstanding_before: Decimal,
                         outstanding_after: Decimal, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        """Store `record` confirmed (new, or a pending one decided) and the loan's new
        outstanding amount; Stale if the repayment is no longer pending or the amount moved."""

    def reject_repayment(self, record: RepaymentRecord, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        """Stale if it is no longer pending."""

    def draw(self, drawdown: Drawdown, outstanding_before: Decimal, outstanding_after: Decimal,
             notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        """Stale if the outstanding amount moved."""

    def post_interest(self, posting: InterestPosting, outstanding_before: Decimal,
                      outstanding_after: Decimal, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        """Stale if the amount moved or the interest was posted meanwhile."""

    def start_interest(self, loan_id: str, at_s: float) -> None:
        """Interest on the loan accrues from `at_s` (when it has not started yet)."""

    def close(self, loan_id: str, by: str, at_s: float, outstanding_before: Decimal,
              notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        """Close the loan and release every lot pledged to it; Stale if the amount moved or
        it is closed already."""


class CollateralStore(Protocol):
    def requests(self, loan_id: str, kind: RequestKind) -> list[CollateralRequest]:
        """The loan's requests of this kind, oldest first."""

    def request(self, request_id: str) -> CollateralRequest | None: ...

    def add_request(self, request: CollateralRequest, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        """A pending request, or a decided one (approved with its pledge stored by `pledge`)."""

    def reject_request(self, request: CollateralRequest, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        """Store the refusal; Stale if the request is no longer pending."""

    def pledge(self, request: CollateralRequest, notices: Sequence[BankNotice],
                entries: Sequence[Entry]) -> None:
        """Carry out an approved request in one transaction: release its `release_lot` (if
        any), pledge its `pledge_lot`, store the request as decided. AlreadyPledged (from
        backend.ports.registry) when the lot backs another loan; Stale when the request was
        decided meanwhile or the lot to release no longer backs the loan."""
