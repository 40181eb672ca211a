"""Registry use cases: add entities, pledge, record releases. Domain rules decide; the repo
stores. (Repayments and other money: services/money.py.)"""
from __future__ import annotations

import gc
import threading
from typing import Callable

from backend.domain import evidence_book, pledges
from backend.domain import registry as reg
from backend.domain.alerts import Condition
from backend.domain.evidence import Entry
from backend.ports.registry import AlreadyPledged, DuplicateEntity, RegistryStore


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    """The request contradicts the registry (already pledged, duplicate id, ...)."""


FREEZE_FROM_LOTS = 10_000


def _keep_out_of_full_collections() -> None:
    """A large book's snapshot lives until the next write: out of the cyclic collector's full
    scans, which paused a request 0.7 s every few dozen over a 100,000-lot book. Garbage is
    collected first, so that only live objects are frozen (a frozen cycle is never freed)."""
    gc.collect()
    gc.freeze()


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
                if len(self._snapshot.lots) >= FREEZE_FROM_LOTS:
                    _keep_out_of_full_collections()
            return self._snapshot

    def take_notices(self, wanted: Callable[[Condition], bool] | None = None) -> list[Condition]:
        """One-off conditions (refused pledges) for the monitor's next step, from any process
        (a partition's monitor takes its own)."""
        return self.repo.take_notices(wanted)

    def seed_if_empty(self, book: reg.Registry) -> bool:
        if self.snapshot().lenders:
            return False
        self.add(book, "book")
        return True

    def add(self, new_entities: reg.Registry, by: str) -> None:
        """Store new entities, logged as added `by` (a person, or "book")."""
        try:
            self.repo.add(new_entities, evidence_book.book_added(new_entities, by, self.clock()))
        except DuplicateEntity as exc:
            raise Conflict(f"already exists: {exc}") from exc

    def pledge(self, lot_id: str, loan_id: str, by: str) -> None:
        """Add a lot to a loan's collateral; Conflict('already pledged') if it backs another
        (the refusal is logged too)."""
        registry = self.snapshot()
        if lot_id not in registry.lots or loan_id not in registry.loans:
            raise NotFound("no such lot or loan")
        outcome = pledges.pledge_lot(registry, lot_id, loan_id)
        if outcome.refused_reason is None and outcome.registry is not registry:
            try:
                self.repo.pledge(loan_id, lot_id, [evidence_book.pledged_in(registry, loan_id, lot_id, by, self.clock())])
                return
            except AlreadyPledged:  # a concurrent pledge won the race in the database
                outcome = pledges.pledge_lot(self.snapshot(), lot_id, loan_id)
                if outcome.refused_reason is None:  # refused all the same: never a silent 201
                    raise Conflict(pledges.ALREADY_PLEDGED) from None
        if outcome.refused_reason is not None:
            refused = evidence_book.collateral_entry("refused", kind="pledge", loan_id=loan_id, request_id=None,
                                                     pledge_lot=lot_id, release_lot=None, by=by, at_s=self.clock(),
                                                     reason=outcome.refused_reason)
            self.repo.add_notice(outcome.notice, self.clock(), [refused])
            raise Conflict(outcome.refused_reason)

    def report(self, notice: Condition | None, refused: Entry) -> None:
        """A refused pledge: logged, and told to the monitor's next step (`notice`, when the
        lot's holder is to hear of it)."""
        self.repo.add_notice(notice, self.clock(), [refused])

