"""Port of the collateral registry: where lenders, lots, loans, pledges, repayments and
releases are kept, loaded as a domain `Registry`."""
from __future__ import annotations

from typing import Callable, Protocol

from backend.domain import registry as reg
from backend.domain.alerts import Condition


class AlreadyPledged(Exception):
    """The store refused a second active pledge of the same lot."""


class DuplicateEntity(Exception):
    """An id (or an EPC) that already exists."""


class RegistryStore(Protocol):
    def version(self) -> int:
        """Moves with every write, whichever process made it."""

    def load(self) -> reg.Registry: ...

    def add(self, registry_delta: reg.Registry) -> None:
        """Add new entities; DuplicateEntity when one exists (nothing is added then)."""

    def pledge(self, loan_id: str, lot_id: str) -> None:
        """AlreadyPledged when the lot backs another loan."""

    def add_notice(self, notice: Condition, at_s: float) -> None:
        """A one-off condition (a refused pledge) for the monitor's next step."""

    def take_notices(self, wanted: Callable[[Condition], bool] | None = None) -> list[Condition]:
        """The notices not taken yet (those `wanted`, when given), each handed out once
        (from any process); the others stay for whoever wants them."""
