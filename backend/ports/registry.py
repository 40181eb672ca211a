"""Port of the collateral registry: where lenders, lots, loans, pledges, repayments and
releases are kept, loaded as a domain `Registry`."""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

from backend.domain import registry as reg
from backend.domain.alerts import Condition
from backend.domain.evidence import Entry


class AlreadyPledged(Exception):
    """The store refused a second active pledge of the same lot."""


class DuplicateEntity(Exception):
    """An id (or an EPC) that already exists."""


class RegistryStore(Protocol):
    def version(self) -> int:
        """Moves with every write, whichever process made it."""

    def load(self) -> reg.Registry: ...

    def add(self, registry_delta: reg.Registry, entries: Sequence[Entry]) -> None:
        """Add new entities and append their log `entries`; DuplicateEntity when one exists
        (nothing is added or logged then)."""

    def pledge(self, loan_id: str, lot_id: str, entries: Sequence[Entry]) -> None:
        """AlreadyPledged when the lot backs another loan (nothing is logged then)."""

    def add_notice(self, notice: Condition | None, at_s: float, entries: Sequence[Entry] = ()) -> None:
        """A one-off condition (a refused pledge) for the monitor's next step (None: none),
        with the log `entries` of the refusal, in one transaction."""

    def take_notices(self, wanted: Callable[[Condition], bool] | None = None) -> list[Condition]:
        """The notices not taken yet (those `wanted`, when given), each handed out once
        (from any process); the others stay for whoever wants them."""
