"""In-memory fakes of the money ports (backend/ports/money.py) over FakeRegistryStore: the
same conditional writes as the SQL adapter (Stale when the outstanding amount or a decision
moved), and a signer that signs nothing but keeps what it was given."""
from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any, Mapping, Sequence

from fakes_monitoring import FakeRegistryStore

from backend.domain.evidence import Entry
from backend.domain.money import InterestPosting
from backend.domain.notices import BankNotice
from backend.ports.documents import SignedDocument
from backend.ports.money import CollateralRequest, Drawdown, RepaymentRecord, RequestKind, Stale
from backend.ports.registry import AlreadyPledged


class _Loans:
    def __init__(self, registry: FakeRegistryStore) -> None:
        self.registry = registry
        self.notices: list[BankNotice] = []
        self.logged: list[Entry] = []             # the log entries each write appended
        self.stale_next = 0                     # the next writes find the amount moved

    def _set(self, loan_id: str, before: Decimal, **changes: Any) -> None:
        loan = self.registry.registry.loans[loan_id]
        if self.stale_next or loan.outstanding != before or loan.closed_at_s is not None:
            self.stale_next = max(0, self.stale_next - 1)
            raise Stale(loan_id)
        self.registry._write(loans={**self.registry.registry.loans, loan_id: replace(loan, **changes)})


class FakeMoneyStore(_Loans):
    def __init__(self, registry: FakeRegistryStore) -> None:
        super().__init__(registry)
        self.rows: dict[str, RepaymentRecord] = {}
        self.drawdowns_made: list[Drawdown] = []
        self.postings: list[InterestPosting] = []

    def repayments(self, loan_id: str) -> list[RepaymentRecord]:
        return [r for r in self.rows.values() if r.loan_id == loan_id]

    def repayment(self, repayment_id: str) -> RepaymentRecord | None:
        return self.rows.get(repayment_id)

    def drawdowns(self, loan_id: str) -> list[Drawdown]:
        return [d for d in self.drawdowns_made if d.loan_id == loan_id]

    def interest_postings(self, loan_id: str) -> list[InterestPosting]:
        return [p for p in self.postings if p.loan_id == loan_id]

    def enter_repayment(self, record: RepaymentRecord, notices: Sequence[BankNotice],
              entries: Sequence[Entry]) -> None:
        self.rows[record.id] = record
        self.notices += notices
        self.logged += entries

    def settle_repayment(self, record: RepaymentRecord, outstanding_before: Decimal, outstanding_after: Decimal,
                         notices: Sequence[BankNotice],
              entries: Sequence[Entry]) -> None:
        if record.id in self.rows and self.rows[record.id].state != "pending":
            raise Stale(record.id)
        self._set(record.loan_id, outstanding_before, outstanding=outstanding_after)
        self.rows[record.id] = record
        self.notices += notices
        self.logged += entries

    def reject_repayment(self, record: RepaymentRecord, notices: Sequence[BankNotice],
              entries: Sequence[Entry]) -> None:
        if self.rows[record.id].state != "pending":
            raise Stale(record.id)
        self.rows[record.id] = record
        self.notices += notices
        self.logged += entries

    def draw(self, drawdown: Drawdown, outstanding_before: Decimal, outstanding_after: Decimal,
             notices: Sequence[BankNotice],
              entries: Sequence[Entry]) -> None:
        self._set(drawdown.loan_id, outstanding_before, outstanding=outstanding_after)
        self.drawdowns_made.append(drawdown)
        self.notices += notices
        self.logged += entries

    def post_interest(self, posting: InterestPosting, outstanding_before: Decimal, outstanding_after: Decimal,
                      notices: Sequence[BankNotice],
              entries: Sequence[Entry]) -> None:
        self._set(posting.loan_id, outstanding_before, outstanding=outstanding_after,
                  interest_accrued_to_s=posting.to_s)
        self.postings.append(posting)
        self.notices += notices
        self.logged += entries

    def start_interest(self, loan_id: str, at_s: float) -> None:
        loan = self.registry.registry.loans[loan_id]
        if loan.interest_accrued_to_s is None:
            self._set(loan_id, loan.outstanding, interest_accrued_to_s=at_s)

    def close(self, loan_id: str, by: str, at_s: float, outstanding_before: Decimal,
              notices: Sequence[BankNotice],
              entries: Sequence[Entry]) -> None:
        self._set(loan_id, outstanding_before, closed_at_s=at_s, lot_ids=())
        self.notices += notices
        self.logged += entries


class FakeCollateralStore(_Loans):
    def __init__(self, registry: FakeRegistryStore) -> None:
        super().__init__(registry)
        self.rows: dict[str, CollateralRequest] = {}

    def requests(self, loan_id: str, kind: RequestKind) -> list[CollateralRequest]:
        return [r for r in self.rows.values() if (r.loan_id, r.kind) == (loan_id, kind)]

    def request(self, request_id: str) -> CollateralRequest | None:
        return self.rows.get(request_id)

    def add_request(self, request: CollateralRequest, notices: Sequence[BankNotice],
              entries: Sequence[Entry]) -> None:
        self.rows[request.id] = request
        self.notices += notices
        self.logged += entries

    def reject_request(self, request: CollateralRequest, notices: Sequence[BankNotice],
              entries: Sequence[Entry]) -> None:
        if self.rows[request.id].state != "pending":
            raise Stale(request.id)
        self.rows[request.id] = request
        self.notices += notices
        self.logged += entries

    def pledge(self, request: CollateralRequest, notices: Sequence[BankNotice],
              entries: Sequence[Entry]) -> None:
        if request.id in self.rows and self.rows[request.id].state != "pending":
            raise Stale(request.id)
        if request.pledge_lot in self.registry.registry.loan_of_lot:
            raise AlreadyPledged(request.pledge_lot)
        loan = self.registry.registry.loans[request.loan_id]
        kept = tuple(lot_id for lot_id in loan.lot_ids if lot_id != request.release_lot)
        self._set(loan.id, loan.outstanding, lot_ids=kept + (request.pledge_lot,))
        self.rows[request.id] = request
        self.notices += notices
        self.logged += entries


class FakeSigner:
    key_id = "fake-key"

    def __init__(self) -> None:
        self.signed: list[Mapping[str, Any]] = []

    def sign(self, document: Mapping[str, Any]) -> SignedDocument:
        self.signed.append(document)
        return SignedDocument(json.dumps(document, sort_keys=True, default=str).encode(), "sig", self.key_id)

    def public_key_pem(self) -> str:
        return ""
