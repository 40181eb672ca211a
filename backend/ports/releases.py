"""Ports of releases as a closed loop: release requests (maker), their approval or refusal by
the loan's lender (checker), and the delivery orders an approval issues.

Race safety lives in the store. Issuing an order is conditional on the loan's release
sequence the decision read (`release_seq`): of two approvals racing for the last room, the
second finds it moved and raises `Stale`, and the service decides again with the first's
order counted. An EPC is claimed by at most one pending request or open order at a time
(a unique index): of two requests or approvals naming the same EPC, the second raises
`EpcsTaken`. Every write queues its bank notices and appends its evidence entries in its
own transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, Sequence

from backend.domain.evidence import Entry
from backend.domain.notices import BankNotice
from backend.ports.money import Stale

__all__ = ["DeliveryOrderRecord", "EpcsTaken", "ReleaseRequest", "ReleaseStore", "Stale"]

OPEN_STATES = ("issued", "acknowledged")


class EpcsTaken(Exception):
    """An EPC named is already on another pending request or open delivery order."""


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    id: str
    loan_id: str
    lot_id: str
    items: int | None                          # a count (the EPCs are chosen at approval) ...
    epcs: frozenset[str] | None                # ... or exactly these EPCs
    repayment: str | None                      # the repayment it is asked against, if any
    at_s: float
    requested_by: str
    state: str                                 # pending | approved | refused
    decided_by: str | None = None
    decided_at_s: float | None = None
    reason: str | None = None
    delivery_order: str | None = None          # the order an approval issued


@dataclass(frozen=True, slots=True)
class DeliveryOrderRecord:
    id: str
    request_id: str
    loan_id: str
    lot_id: str
    warehouse_id: str
    epcs: frozenset[str]
    issued_by: str
    issued_at_s: float
    valid_until_s: float
    state: str                                 # issued | acknowledged | fulfilled | expired
    body: bytes                                # the signed document (canonical JSON)
    signature: str
    key_id: str
    acknowledged_by: str | None = None
    acknowledged_at_s: float | None = None
    closed_at_s: float | None = None
    left_epcs: frozenset[str] = frozenset()    # released when it closed

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


class ReleaseStore(Protocol):
    def requests(self, loan_id: str) -> list[ReleaseRequest]:
        """The loan's requests, oldest first."""

    def request(self, request_id: str) -> ReleaseRequest | None: ...

    def add_request(self, request: ReleaseRequest, notices: Sequence[BankNotice], entries: Sequence[Entry]) -> None:
        """A pending request; its named EPCs (if any) are claimed. EpcsTaken when one is."""

    def refuse(self, request: ReleaseRequest, notices: Sequence[BankNotice], entries: Sequence[Entry]) -> None:
        """Store the refusal and free its claims; Stale if it is no longer pending."""

    def release_seq(self, loan_id: str) -> int:
        """Moves with every delivery order issued on the loan."""

    def claimed(self, lot_id: str) -> frozenset[str]:
        """EPCs of the lot on a pending request or an open order."""

    def issue(self, request: ReleaseRequest, order: DeliveryOrderRecord, seq_before: int, outstanding_before: Decimal,
              notices: Sequence[BankNotice], entries: Sequence[Entry]) -> None:
        """Approve `request` and store `order`, claiming its EPCs, in one transaction: Stale if
        the request was decided or the loan's release sequence or outstanding amount moved
        meanwhile; EpcsTaken if another request or order claims one of its EPCs."""

    def orders(self, lot_ids: Sequence[str] | None = None) -> list[DeliveryOrderRecord]:
        """Orders of these lots (None: every lot), newest first."""

    def order(self, order_id: str) -> DeliveryOrderRecord | None: ...

    def acknowledge(self, order: DeliveryOrderRecord, by: str, at_s: float, notices: Sequence[BankNotice],
                    entries: Sequence[Entry]) -> None:
        """issued -> acknowledged; Stale if it is not `issued` any more."""

    def close(self, order_id: str, outcome: str, left: frozenset[str], at_s: float,
              notices: Sequence[BankNotice], entries: Sequence[Entry]) -> bool:
        """An open order closes (`fulfilled` or `expired`): `left` are released, its claims freed.
        False (nothing written) when it is closed already."""
