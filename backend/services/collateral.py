"""Changing what backs a loan: a top-up (pledge another lot) and a substitution (release lot
A and pledge lot B in one transaction), each approved by the loan's lender.

A decider's own request (the lender, or an admin recorded as the admin) is carried out at
once; another party's waits, `pending`, until a decider approves or rejects it. The
double-pledge guard applies when the pledge is made, whoever asked and whenever. A
substitution is approved only if LTV after it is at or below the target with B valued now:
observed present, verified, at a fresh price, no critical alert on it.
"""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Callable, Mapping

from backend.domain import borrowing_base, evidence_book, pledges
from backend.domain import registry as reg
from backend.domain.errors import RegistryError
from backend.domain.evidence import Entry
from backend.domain.monitor import MonitorState
from backend.domain.notices import money_notice
from backend.ports.money import CollateralRequest, CollateralStore, RequestKind, Stale
from backend.ports.registry import AlreadyPledged
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.money import new_id
from backend.services.registry import Conflict, NotFound, RegistryService

SUBSTITUTION_CHANGES = {"requested": "substitution_requested", "approved": "substituted",
                        "rejected": "substitution_rejected"}


class CollateralService:
    def __init__(self, *, registry: RegistryService, store: CollateralStore,
                 monitor_state: Callable[[], MonitorState | None],
                 fx_rates: Callable[[], Mapping[tuple[str, str], Decimal]], clock: Callable[[], float]) -> None:
        """`monitor_state()`: the monitor's state in this process (None: it runs elsewhere,
        and substitutions, which need its valuation, are refused here)."""
        self.registry, self.store, self.monitor_state = registry, store, monitor_state
        self.fx_rates, self.clock = fx_rates, clock

    def requests(self, loan_id: str, kind: RequestKind) -> list[CollateralRequest]:
        self._loan(self.registry.snapshot(), loan_id)
        return self.store.requests(loan_id, kind)

    def ask(self, caller: Principal, loan_id: str, pledge_lot: str, release_lot: str | None = None) -> CollateralRequest:
        """A top-up (`release_lot` None) or a substitution: carried out now when the caller
        decides for the loan, else pending. Conflict with the reason when refused."""
        registry = self.registry.snapshot()
        loan = self._loan(registry, loan_id)
        if pledge_lot not in registry.lots or (release_lot is not None and release_lot not in loan.lot_ids):
            raise NotFound(f"no lot {pledge_lot!r}" if pledge_lot not in registry.lots
                           else f"lot {release_lot!r} does not back loan {loan_id!r}")
        now_s = self.clock()
        request = CollateralRequest(new_id("cr"), loan_id, "pledge" if release_lot is None else "substitution",
                                    pledge_lot, release_lot, now_s, caller.name, "pending")
        self._refuse_if_guarded(registry, request, caller.name)
        if access.decides_for(caller, loan):
            return self._carry_out(replace(request, state="approved", decided_by=caller.name, decided_at_s=now_s))
        self.store.add_request(request, [self._notice(loan, request, "requested")], [_logged(request, "requested")])
        return request

    def approve(self, caller: Principal, loan_id: str, kind: RequestKind, request_id: str) -> CollateralRequest:
        request = self._pending(caller, loan_id, kind, request_id)
        return self._carry_out(replace(request, state="approved", decided_by=caller.name, decided_at_s=self.clock()))

    def reject(self, caller: Principal, loan_id: str, kind: RequestKind, request_id: str,
               reason: str) -> CollateralRequest:
        request = self._pending(caller, loan_id, kind, request_id)
        rejected = replace(request, state="rejected", decided_by=caller.name, decided_at_s=self.clock(), reason=reason)
        loan = self.registry.snapshot().loans[loan_id]
        try:
            self.store.reject_request(rejected, [self._notice(loan, rejected, "rejected")], [_logged(rejected, "rejected")])
        except Stale as exc:
            raise Conflict("the request was decided meanwhile") from exc
        return rejected

    # -- the rules -------------------------------------------------------------------------

    @staticmethod
    def _loan(registry: reg.Registry, loan_id: str) -> reg.Loan:
        loan = registry.loans.get(loan_id)
        if loan is None:
            raise NotFound(f"no loan {loan_id!r}")
        return loan

    def _pending(self, caller: Principal, loan_id: str, kind: RequestKind, request_id: str) -> CollateralRequest:
        loan = self._loan(self.registry.snapshot(), loan_id)
        request = self.store.request(request_id)
        if request is None or (request.loan_id, request.kind) != (loan_id, kind) or not access.decides_for(caller, loan):
            raise NotFound(f"no {kind} request {request_id!r} for you to decide on loan {loan_id!r}")
        if request.state != "pending":
            raise Conflict(f"the request is already {request.state}")
        return request

    def _refuse_if_guarded(self, registry: reg.Registry, request: CollateralRequest, by: str) -> reg.Registry:
        """The registry after the change, or Conflict: the double-pledge guard (the holder
        hears of the attempt; the refusal is logged, `by` whoever tried) and the loan's own state."""
        if request.release_lot is None:
            if request.pledge_lot in registry.loans[request.loan_id].lot_ids:
                raise Conflict("the lot already backs this loan")
            outcome = pledges.pledge_lot(registry, request.pledge_lot, request.loan_id)
        else:
            try:
                outcome = pledges.substitute(registry, request.loan_id, request.release_lot, request.pledge_lot)
            except RegistryError as exc:
                raise Conflict(str(exc)) from exc
        if outcome.refused_reason is not None:
            refused = replace(request, decided_by=by, decided_at_s=self.clock(), reason=outcome.refused_reason)
            self.registry.report(outcome.notice, _logged(refused, "refused"))
            raise Conflict(outcome.refused_reason)
        return outcome.registry

    def _value_refusal(self, registry: reg.Registry, request: CollateralRequest) -> str | None:
        state = self.monitor_state()
        if state is None or request.release_lot is None:
            return "the loan has no valuation in this process (its monitor runs elsewhere)"
        return borrowing_base.substitution_refusal(state, registry, request.loan_id, request.release_lot,
                                                   request.pledge_lot, self.clock(), self.fx_rates())

    def _carry_out(self, request: CollateralRequest) -> CollateralRequest:
        registry = self.registry.snapshot()
        decider = request.decided_by or request.requested_by
        self._refuse_if_guarded(registry, request, decider)
        if request.kind == "substitution":
            refusal = self._value_refusal(registry, request)
            if refusal is not None:
                raise Conflict(refusal)
        loan = registry.loans[request.loan_id]
        try:
            self.store.pledge(request, [self._notice(loan, request, "approved")], [_logged(request, "approved")])
        except AlreadyPledged:  # a concurrent pledge won the race in the database
            self._refuse_if_guarded(self.registry.snapshot(), request, decider)
            raise Conflict(pledges.ALREADY_PLEDGED) from None
        except Stale as exc:
            raise Conflict("the request was decided, or the loan's lots changed, meanwhile") from exc
        return request

    @staticmethod
    def _notice(loan: reg.Loan, request: CollateralRequest, outcome: str):
        """`outcome`: requested, approved or rejected; a substitution's changes are named as such."""
        change = outcome if request.kind == "pledge" else SUBSTITUTION_CHANGES[outcome]
        return money_notice(loan, "pledge", change, request.id, request.decided_at_s or request.at_s,
                            request=request.id, kind=request.kind, pledge_lot=request.pledge_lot,
                            release_lot=request.release_lot, requested_by=request.requested_by,
                            decided_by=request.decided_by, reason=request.reason)


def _logged(request: CollateralRequest, outcome: str) -> Entry:
    """The request's step as its log entry; `by` who took it (whoever asked, while it waits)."""
    by = request.requested_by if outcome == "requested" else request.decided_by or request.requested_by
    return evidence_book.collateral_entry(
        outcome, kind=request.kind, loan_id=request.loan_id, request_id=request.id,
        pledge_lot=request.pledge_lot, release_lot=request.release_lot, by=by,
        at_s=request.at_s if outcome == "requested" else request.decided_at_s or request.at_s,
        requested_by=request.requested_by, reason=request.reason)
