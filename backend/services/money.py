"""Money on a loan: repayments (pending until its lender confirms), drawdowns within drawing
power, daily interest, and closing a loan repaid in full.

Who decides is the loan's lender, or an admin acting for it (recorded as the admin). A
repayment another party enters waits, `pending`, changing nothing, until a decider confirms
or rejects it. Every write is decided on the amounts it read and stored only if they still
hold (the store raises Stale otherwise): then it is decided again on the new amounts.
"""
from __future__ import annotations

import secrets
from dataclasses import replace
from decimal import Decimal
from typing import Callable

from backend.domain import evidence_book, money
from backend.domain import registry as reg
from backend.domain.evidence import Entry
from backend.domain.notices import money_notice
from backend.ports.money import Drawdown, MoneyStore, RepaymentRecord, Stale
from backend.ports.monitor import StandingRecord
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.registry import Conflict, NotFound, RegistryService

ATTEMPTS = 5  # decide again this often when another write moved the amounts meanwhile


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


class MoneyService:
    def __init__(self, *, registry: RegistryService, store: MoneyStore,
                 standing: Callable[[str], StandingRecord | None], clock: Callable[[], float]) -> None:
        """`standing(loan_id)`: the loan's valuation as the monitor last stored it."""
        self.registry, self.store, self.standing, self.clock = registry, store, standing, clock

    def _loan(self, loan_id: str) -> reg.Loan:
        loan = self.registry.snapshot().loans.get(loan_id)
        if loan is None:
            raise NotFound(f"no loan {loan_id!r}")
        return loan

    # -- repayments ----------------------------------------------------------------------

    def repayments(self, loan_id: str) -> list[RepaymentRecord]:
        self._loan(loan_id)
        return self.store.repayments(loan_id)

    def repay(self, caller: Principal, loan_id: str, amount: Decimal) -> RepaymentRecord:
        """Confirmed at once when the caller decides for the loan; else pending."""
        loan = self._loan(loan_id)
        if loan.closed_at_s is not None:
            raise Conflict("the loan is closed")
        if amount <= 0:
            raise Conflict(f"a repayment must be positive, got {amount}")
        now_s = self.clock()
        record = RepaymentRecord(new_id("rp"), loan_id, amount, now_s, "pending", caller.name)
        if access.decides_for(caller, loan):
            return self._settle(replace(record, state="confirmed", decided_by=caller.name, decided_at_s=now_s))
        self.store.enter_repayment(record, [self._notice(loan, record, entered_by=record.entered_by)],
                                   [_logged(loan, record)])
        return record

    def confirm(self, caller: Principal, loan_id: str, repayment_id: str) -> RepaymentRecord:
        record = self._pending(caller, loan_id, repayment_id)
        return self._settle(replace(record, state="confirmed", decided_by=caller.name, decided_at_s=self.clock()))

    def reject(self, caller: Principal, loan_id: str, repayment_id: str, reason: str) -> RepaymentRecord:
        record = self._pending(caller, loan_id, repayment_id)
        rejected = replace(record, state="rejected", decided_by=caller.name, decided_at_s=self.clock(),
                           reason=reason)
        try:
            loan = self._loan(loan_id)
            self.store.reject_repayment(rejected, [self._notice(loan, rejected, reason=reason)],
                                        [_logged(loan, rejected)])
        except Stale as exc:
            raise Conflict("the repayment was decided meanwhile") from exc
        return rejected

    def _pending(self, caller: Principal, loan_id: str, repayment_id: str) -> RepaymentRecord:
        loan = self._loan(loan_id)
        record = self.store.repayment(repayment_id)
        if record is None or record.loan_id != loan_id or not access.decides_for(caller, loan):
            raise NotFound(f"no repayment {repayment_id!r} for you to decide on loan {loan_id!r}")
        if record.state != "pending":
            raise Conflict(f"the repayment is already {record.state}")
        return record

    def _settle(self, record: RepaymentRecord) -> RepaymentRecord:
        """Lower the outstanding amount (never below 0) by a confirmed repayment."""
        for _ in range(ATTEMPTS):
            loan = self._loan(record.loan_id)
            if loan.closed_at_s is not None:
                raise Conflict("the loan is closed")
            after = max(Decimal(0), loan.outstanding - record.amount)
            notice = self._notice(loan, record, entered_by=record.entered_by, outstanding=money.cents(after))
            try:
                self.store.settle_repayment(record, loan.outstanding, after, [notice], [_logged(loan, record, after)])
                return record
            except Stale:
                current = self.store.repayment(record.id)
                if current is not None and current.state != "pending":
                    raise Conflict(f"the repayment is already {current.state}") from None
        raise Conflict("the loan kept changing; try again")

    @staticmethod
    def _notice(loan: reg.Loan, record: RepaymentRecord, **data: object):
        return money_notice(loan, "repayment", record.state, record.id, record.decided_at_s or record.at_s,
                            repayment=record.id, amount=money.cents(record.amount), state=record.state,
                            decided_by=record.decided_by, **data)

    # -- drawdowns, closing ----------------------------------------------------------------

    def draw(self, caller: Principal, loan_id: str, amount: Decimal) -> tuple[Drawdown, reg.Loan]:
        """The lender raises the outstanding amount; Conflict (with the reason) beyond drawing power."""
        for _ in range(ATTEMPTS):
            loan = self._loan(loan_id)
            standing = self.standing(loan_id)
            decision = money.drawdown_decision(loan, amount, standing.collateral_value if standing else None,
                                               standing.price_stale if standing else False)
            if not decision.approved:
                raise Conflict(decision.reason)
            drawdown = Drawdown(new_id("dd"), loan_id, amount, caller.name, self.clock())
            after = loan.outstanding + amount
            notice = money_notice(loan, "loan", "drawdown", drawdown.id, drawdown.at_s, drawdown=drawdown.id,
                                  amount=money.cents(amount), by=caller.name, outstanding=money.cents(after))
            try:
                logged = evidence_book.drawdown_entry(loan, drawdown.id, amount, caller.name, drawdown.at_s, after)
                self.store.draw(drawdown, loan.outstanding, after, [notice], [logged])
                return drawdown, replace(loan, outstanding=after)
            except Stale:
                continue
        raise Conflict("the loan kept changing; try again")

    def close(self, caller: Principal, loan_id: str) -> reg.Loan:
        """Close a loan repaid in full; its remaining pledges are released. Conflict while anything is owed."""
        for _ in range(ATTEMPTS):
            loan = self._loan(loan_id)
            refusal = money.close_refusal(loan)
            if refusal is not None:
                raise Conflict(refusal)
            now_s = self.clock()
            notice = money_notice(loan, "loan", "closed", "closed", now_s, by=caller.name,
                                  released_lots=list(loan.lot_ids))
            try:
                self.store.close(loan_id, caller.name, now_s, loan.outstanding, [notice],
                                 [evidence_book.loan_closed(loan, caller.name, now_s)])
                return replace(loan, lot_ids=(), closed_at_s=now_s)
            except Stale:
                continue
        raise Conflict("the loan kept changing; try again")

    # -- interest --------------------------------------------------------------------------

    def post_interest(self) -> list[money.InterestPosting]:
        """Post the interest of every whole day elapsed, loan by loan (a loan's interest
        starts accruing at the first pass that sees it). Run it periodically; a pass that
        loses a race to another process's leaves the days to it."""
        now_s, posted = self.clock(), []
        for loan in self.registry.snapshot().loans.values():
            if loan.interest is None or loan.closed_at_s is not None:
                continue
            if loan.interest_accrued_to_s is None:
                self.store.start_interest(loan.id, now_s)
                continue
            posting = money.interest_due(loan, now_s)
            if posting is None:
                continue
            after = loan.outstanding + posting.amount
            notices = [money_notice(loan, "loan", "interest_posted", f"interest-{int(posting.to_s)}", posting.to_s,
                                    amount=money.cents(posting.amount), days=posting.days, from_s=posting.from_s,
                                    to_s=posting.to_s, rate=loan.interest.rate.normalize(),
                                    day_count=loan.interest.day_count, outstanding=money.cents(after))] if posting.amount > 0 else []
            logged = evidence_book.interest_entry(loan, posting.amount, posting.days, posting.from_s, posting.to_s, after)
            try:
                self.store.post_interest(posting, loan.outstanding, after, notices, [logged])
                posted.append(posting)
            except Stale:
                continue
        return posted


def _logged(loan: reg.Loan, record: RepaymentRecord, outstanding: Decimal | None = None) -> Entry:
    """The repayment's step as its log entry (`outstanding`: the loan's amount once confirmed)."""
    return evidence_book.repayment_entry(record.state, loan=loan, reference=record.id, amount=record.amount,
                                         entered_by=record.entered_by, decided_by=record.decided_by,
                                         at_s=record.decided_at_s or record.at_s, outstanding=outstanding,
                                         reason=record.reason)
