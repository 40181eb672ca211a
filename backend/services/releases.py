"""Releasing goods, maker-checker: a request (the borrower, or staff for it) approved or
refused by the loan's lender with another key (an admin may act, recorded as the admin).

An approval issues a signed delivery order (services/delivery_orders.py reads and closes
them) naming the exact EPCs that may leave, chosen among the lot's pledged items observed
present and on no other open order. Goods may leave only a lot the monitor can vouch for
(verified, priced at a fresh price, no critical alert open on it), and only while LTV stays
at or below target with every open order's items counted as gone. Approvals are stored only
on the loan state they were decided on (the store raises Stale otherwise): then decided again.
"""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable

from backend.domain import delivery
from backend.domain import registry as reg
from backend.domain.evidence import Entry
from backend.domain.notices import BankNotice, money_notice
from backend.domain.releases import ReleaseDecision, choose_epcs, decide_release
from backend.ports.documents import DocumentSigner
from backend.ports.money import RepaymentRecord
from backend.ports.releases import DeliveryOrderRecord, EpcsTaken, ReleaseRequest, ReleaseStore, Stale
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.money import ATTEMPTS, new_id
from backend.services.registry import Conflict, NotFound, RegistryService

# lot id -> (why a release is refused now, or None; the EPCs observed present, or None: unknown)
ReleaseGuard = Callable[[str], tuple[str | None, frozenset[str] | None]]


class ReleaseService:
    def __init__(self, *, registry: RegistryService, store: ReleaseStore, signer: DocumentSigner,
                 repayment: Callable[[str], RepaymentRecord | None],
                 collateral_value: Callable[[str], Decimal | None],
                 value_per_item: Callable[[str, str], Decimal], clock: Callable[[], float],
                 guard: ReleaseGuard = lambda lot_id: (None, None), valid_s: int = 86_400) -> None:
        """`guard(lot_id)` → (why nothing may leave now or None, the pledged EPCs observed
        present or None when unknown); `valid_s`: a delivery order's default validity."""
        self.registry, self.store, self.signer, self.repayment = registry, store, signer, repayment
        self.collateral_value, self.value_per_item = collateral_value, value_per_item
        self.clock, self.guard, self.valid_s = clock, guard, valid_s

    # -- the quote -------------------------------------------------------------------------

    def decide(self, loan_id: str, lot_id: str, items: int, repayment: Decimal) -> ReleaseDecision:
        """How many items a repayment of this amount could free now (no request is made)."""
        registry = self.registry.snapshot()
        loan = self._loan(registry, loan_id, lot_id)
        refusal, present = self.guard(lot_id)
        if refusal is not None:
            return ReleaseDecision(False, 0, refusal)
        available = self._available(registry, lot_id, present, frozenset())
        if items > len(available):
            return ReleaseDecision(False, len(available), f"only {len(available)} pledged items of lot {lot_id} "
                                                          f"are observed present and on no open delivery order")
        return self._weigh(registry, loan, lot_id, items, repayment)

    # -- requests and decisions ------------------------------------------------------------

    def requests(self, loan_id: str) -> list[ReleaseRequest]:
        self._loan(self.registry.snapshot(), loan_id)
        return self.store.requests(loan_id)

    def ask(self, caller: Principal, loan_id: str, lot_id: str, items: int | None,
            epcs: frozenset[str] | None, repayment: str | None) -> ReleaseRequest:
        """A pending request for `items` of the lot, or exactly `epcs` (claimed from now on)."""
        registry = self.registry.snapshot()
        loan = self._loan(registry, loan_id, lot_id)
        if not access.requests_for(caller, loan):
            raise NotFound(f"no loan {loan_id!r}")
        if loan.closed_at_s is not None:
            raise Conflict("the loan is closed")
        pledged = registry.pledged_epcs[lot_id]
        if epcs is not None and not epcs <= pledged:
            raise Conflict(f"{len(epcs - pledged)} of the named EPCs are not pledged items of lot {lot_id}")
        if items is not None and items > len(pledged):
            raise Conflict(f"only {len(pledged)} items of lot {lot_id} are pledged")
        if repayment is not None and self._repayment_state(loan_id, repayment) == "rejected":
            raise Conflict(f"repayment {repayment} was rejected")
        request = ReleaseRequest(new_id("rr"), loan_id, lot_id, items, epcs, repayment, self.clock(), caller.name,
                                 "pending")
        entry = _entry("release.requested", request, request.at_s, by=caller.name, items=_count(request),
                       repayment=repayment, epcs=sorted(epcs) if epcs else None)
        try:
            self.store.add_request(request, [self._notice(loan, request, "requested")], [entry])
        except EpcsTaken as exc:
            raise Conflict(str(exc)) from exc
        return request

    def approve(self, caller: Principal, loan_id: str, request_id: str,
                valid_for_s: int | None = None) -> tuple[ReleaseRequest, DeliveryOrderRecord]:
        """Issue the delivery order, or Conflict with the reason (the request stays pending)."""
        for _ in range(ATTEMPTS):
            seq = self.store.release_seq(loan_id)       # read first: an order issued after it moves it
            registry = self.registry.snapshot()
            request, loan = self._pending(caller, registry, loan_id, request_id)
            if request.requested_by == caller.name:
                raise Conflict("maker-checker: a release is approved with another key than the one that asked for it")
            epcs, decision = self._choose(registry, loan, request)
            now_s = self.clock()
            order = self._order(registry, loan, request, epcs, caller.name, now_s, valid_for_s or self.valid_s)
            approved = replace(request, state="approved", decided_by=caller.name, decided_at_s=now_s,
                               delivery_order=order.id)
            notices = [self._notice(loan, approved, "approved", max_items=decision.max_items),
                       order_notice(loan, order, "issued", now_s, by=caller.name)]
            entries = [_entry("release.approved", approved, now_s, by=caller.name, items=len(epcs),
                              max_items=decision.max_items, repayment=request.repayment),
                       _entry("delivery_order.issued", approved, now_s, by=caller.name, epcs=sorted(epcs),
                              order=order.id, valid_until_s=int(order.valid_until_s))]
            try:
                self.store.issue(approved, order, seq, loan.outstanding, notices, entries)
                return approved, order
            except EpcsTaken as exc:
                raise Conflict(str(exc)) from exc
            except Stale:
                continue                                  # decided again on what moved
        raise Conflict("the loan kept changing; try again")

    def refuse(self, caller: Principal, loan_id: str, request_id: str, reason: str) -> ReleaseRequest:
        request, loan = self._pending(caller, self.registry.snapshot(), loan_id, request_id)
        refused = replace(request, state="refused", decided_by=caller.name, decided_at_s=self.clock(), reason=reason)
        entry = _entry("release.refused", refused, refused.decided_at_s or 0, by=caller.name, items=_count(refused),
                       max_items=0, reason=reason)
        try:
            self.store.refuse(refused, [self._notice(loan, refused, "refused", reason=reason)], [entry])
        except Stale as exc:
            raise Conflict("the request was decided meanwhile") from exc
        return refused

    # -- the rules -------------------------------------------------------------------------

    @staticmethod
    def _loan(registry: reg.Registry, loan_id: str, lot_id: str | None = None) -> reg.Loan:
        loan = registry.loans.get(loan_id)
        if loan is None:
            raise NotFound(f"no loan {loan_id!r}")
        if lot_id is not None and lot_id not in loan.lot_ids:
            raise NotFound(f"lot {lot_id!r} does not back loan {loan_id!r}")
        return loan

    def _pending(self, caller: Principal, registry: reg.Registry, loan_id: str,
                 request_id: str) -> tuple[ReleaseRequest, reg.Loan]:
        loan = self._loan(registry, loan_id)
        request = self.store.request(request_id)
        if request is None or request.loan_id != loan_id or not access.decides_for(caller, loan):
            raise NotFound(f"no release request {request_id!r} for you to decide on loan {loan_id!r}")
        if request.state != "pending":
            raise Conflict(f"the request is already {request.state}")
        return request, loan

    def _repayment_state(self, loan_id: str, repayment_id: str) -> str:
        record = self.repayment(repayment_id)
        if record is None or record.loan_id != loan_id:
            raise NotFound(f"no repayment {repayment_id!r} on loan {loan_id!r}")
        return record.state

    def _available(self, registry: reg.Registry, lot_id: str, present: frozenset[str] | None,
                   own: frozenset[str]) -> frozenset[str]:
        """Pledged EPCs observed present (all pledged when unknown) on no other request or order."""
        base = registry.pledged_epcs[lot_id] if present is None else present
        return base - (self.store.claimed(lot_id) - own)

    def _weigh(self, registry: reg.Registry, loan: reg.Loan, lot_id: str, items: int,
               repayment: Decimal) -> ReleaseDecision:
        value = self.collateral_value(loan.id)
        if value is None:
            raise Conflict("the loan has no valuation yet; try again once its goods are priced")
        per_item = lambda lot: self.value_per_item(lot, loan.id)  # noqa: E731
        reserved = delivery.reserved_value(registry, loan.id, per_item)
        return decide_release(items, per_item(lot_id), loan.outstanding, repayment, value - reserved,
                              loan.target_ltv)

    def _choose(self, registry: reg.Registry, loan: reg.Loan,
                request: ReleaseRequest) -> tuple[frozenset[str], ReleaseDecision]:
        refusal, present = self.guard(request.lot_id)
        if refusal is None and request.repayment is not None:
            state = self._repayment_state(loan.id, request.repayment)
            if state != "confirmed":
                refusal = f"repayment {request.repayment} is {state}: goods leave against a confirmed repayment"
        if refusal is not None:
            raise Conflict(refusal)
        available = self._available(registry, request.lot_id, present, request.epcs or frozenset())
        epcs, refusal = choose_epcs(request.lot_id, available, request.items, request.epcs)
        if refusal is not None:
            raise Conflict(refusal)
        decision = self._weigh(registry, loan, request.lot_id, len(epcs), Decimal(0))
        if not decision.approved:
            raise Conflict(decision.reason)
        return epcs, decision

    def _order(self, registry: reg.Registry, loan: reg.Loan, request: ReleaseRequest, epcs: frozenset[str],
               approver: str, now_s: float, valid_s: int) -> DeliveryOrderRecord:
        lot = registry.lots[request.lot_id]
        commodity = registry.commodities[lot.commodity_id]
        order_id = new_id("do")
        document: dict[str, Any] = {
            "type": "delivery_order", "version": 1, "id": order_id, "loan": loan.id, "lender": loan.lender_id,
            "borrower": loan.borrower_id, "lot": lot.id, "warehouse": lot.warehouse_id, "commodity": commodity.id,
            "unit": commodity.unit, "items": len(epcs), "quantity": lot.quantity(epcs),
            "epcs": sorted(epcs), "issued_at_s": int(now_s), "valid_until_s": int(now_s + valid_s),
            "release_request": request.id, "requested_by": request.requested_by, "approved_by": approver,
            "repayment": request.repayment, "issuer_key_id": self.signer.key_id}
        signed = self.signer.sign(document)
        return DeliveryOrderRecord(order_id, request.id, loan.id, lot.id, lot.warehouse_id, epcs, approver, now_s,
                                   now_s + valid_s, "issued", signed.body, signed.signature, signed.key_id)

    @staticmethod
    def _notice(loan: reg.Loan, request: ReleaseRequest, change: str, **data: object) -> BankNotice:
        return money_notice(loan, "release", change, request.id, request.decided_at_s or request.at_s,
                            request=request.id, lot=request.lot_id, items=_count(request),
                            epcs=sorted(request.epcs) if request.epcs else None, repayment=request.repayment,
                            requested_by=request.requested_by, decided_by=request.decided_by,
                            delivery_order=request.delivery_order, **data)


def _count(request: ReleaseRequest) -> int:
    return len(request.epcs) if request.epcs else request.items or 0


def _entry(kind: str, request: ReleaseRequest, at_s: float, **payload: object) -> Entry:
    return Entry(kind, int(at_s), {"loan": request.loan_id, "lot": request.lot_id, "release": request.id},
                 {name: value for name, value in payload.items() if value is not None or name == "repayment"})


def order_notice(loan: reg.Loan, order: DeliveryOrderRecord, change: str, at_s: float,
                  **data: object) -> BankNotice:
    """A delivery order's notice to the loan's lender (services/delivery_orders.py sends the later ones)."""
    return money_notice(loan, "delivery_order", change, order.id, at_s, delivery_order=order.id,
                        request=order.request_id, lot=order.lot_id, warehouse=order.warehouse_id,
                        epcs=sorted(order.epcs), valid_until_s=order.valid_until_s, state=order.state, **data)
