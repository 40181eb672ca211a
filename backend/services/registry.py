"""Registry use cases: add entities, pledge, record releases. Domain rules decide; the repo
stores. (Repayments and other money: services/money.py.)"""
from __future__ import annotations

import threading
from typing import Callable

from backend.domain import pledges
from backend.domain import registry as reg
from backend.domain.alerts import Condition
from backend.ports.registry import AlreadyPledged, DuplicateEntity, RegistryStore


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    """The request contradicts the registry (already pledged, duplicate id, ...)."""


class RegistryService:
    def __init__(self, repo: RegistryStore, clock: Callable[[], float]) -> None:
        self.repo, self.clock = repo, clock
        self._lock = threading.Lock()
        self._snapshot: reg.Registry | None = None
        self._version: int | None = None

    def snapshot(self) -> reg.Registry:
        """The registry as stored; reloaded when any process has written to it since."""
        version = self.repo.version()  # read before loading: a write in between reloads again
        with self._lock:
            if self._snapshot is None or version != self._version:
                self._snapshot, self._version = self.repo.load(), version
            return self._snapshot

    def take_notices(self, wanted: Callable[[Condition], bool] | None = None) -> list[Condition]:
        """One-off conditions (refused pledges) for the monitor's next step, from any process
        (a partition's monitor takes its own)."""
        return self.repo.take_notices(wanted)

    def seed_if_empty(self, book: reg.Registry) -> bool:
        if self.snapshot().lenders:
            return False
        self.add(book)
        return True

    def add(self, new_entities: reg.Registry) -> None:
        try:
            self.repo.add(new_entities)
        except DuplicateEntity as exc:
            raise Conflict(f"already exists: {exc}") from exc

    def pledge(self, lot_id: str, loan_id: str) -> None:
        """Add a lot to a loan's collateral; Conflict('already pledged') if it backs another."""
        registry = self.snapshot()
        if lot_id not in registry.lots or loan_id not in registry.loans:
            raise NotFound("no such lot or loan")
        outcome = pledges.pledge_lot(registry, lot_id, loan_id)
        if outcome.refused_reason is None and outcome.registry is not registry:
            try:
                self.repo.pledge(loan_id, lot_id)
                return
            except AlreadyPledged:  # a concurrent pledge won the race in the database
                outcome = pledges.pledge_lot(self.snapshot(), lot_id, loan_id)
                if outcome.refused_reason is None:  # refused all the same: never a silent 201
                    raise Conflict(pledges.ALREADY_PLEDGED) from None
        if outcome.refused_reason is not None:
            self.repo.add_notice(outcome.notice, self.clock())
            raise Conflict(pledges.ALREADY_PLEDGED)

    def report(self, notice: Condition) -> None:
        """A one-off condition (a refused pledge) for the monitor's next step."""
        self.repo.add_notice(notice, self.clock())

