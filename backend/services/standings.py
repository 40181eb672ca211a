"""Loan standings as the monitor last stored them, and their history: the read side, in any
process (the monitor may run in another)."""
from __future__ import annotations

from decimal import Decimal
from typing import Collection

from backend.ports.monitor import HistoryPoint, StandingRecord, StandingStore


class LoanStandings:
    def __init__(self, store: StandingStore) -> None:
        self.store = store

    def all(self) -> dict[str, StandingRecord]:
        """Loan id -> its standing; a loan the monitor has not judged yet has none."""
        return self.store.all()

    def of(self, loan_id: str) -> StandingRecord | None:
        return self.store.of_loans([loan_id]).get(loan_id)

    def of_loans(self, loan_ids: Collection[str]) -> dict[str, StandingRecord]:
        """Those of these loans the monitor has judged: one read of their rows, not the book's."""
        return self.store.of_loans(loan_ids)

    def collateral_value(self, loan_id: str) -> Decimal | None:
        standing = self.of(loan_id)
        return standing.collateral_value if standing else None

    def history(self, loan_id: str, from_s: float, to_s: float, limit: int) -> list[HistoryPoint]:
        """Points with from_s <= at_s < to_s, oldest first."""
        return self.store.history(loan_id, from_s, to_s, limit)
