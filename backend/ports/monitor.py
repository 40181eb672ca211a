"""Ports of the monitor: where it keeps loan standings and their history, and where the
physical counts (inspections) it judges are recorded. Alerts: backend.ports.alerts."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Collection, Protocol, Sequence

from backend.domain.inspections import Inspection
from backend.domain.ltv import LoanStanding


@dataclass(frozen=True)
class StandingRecord:
    loan_id: str
    status: str
    ltv: Decimal | None
    collateral_value: Decimal | None
    drawing_power: Decimal | None
    cure_deadline_s: float | None
    cure_amount: Decimal | None
    price_stale: bool
    updated_at_s: float
    market_value: Decimal | None = None        # before haircut: what a bank reconciles


@dataclass(frozen=True)
class HistoryPoint:
    loan_id: str
    at_s: float
    status: str
    ltv: Decimal | None
    collateral_value: Decimal | None
    observed_quantity: Decimal | None
    pledged_quantity: Decimal | None


class StandingStore(Protocol):
    """Each loan's latest standing (what the monitor last said) and its history over time."""

    def save(self, records: Sequence[StandingRecord]) -> None:
        """Replace the standings of these loans."""

    def all(self) -> dict[str, StandingRecord]: ...

    def of_loans(self, loan_ids: Collection[str]) -> dict[str, StandingRecord]:
        """The standings of these loans only (a loan without one is left out)."""

    def append_history(self, points: Sequence[HistoryPoint]) -> None: ...

    def history(self, loan_id: str, from_s: float, to_s: float, limit: int) -> list[HistoryPoint]:
        """Points with from_s <= at_s < to_s, oldest first."""

    def standings(self) -> dict[str, LoanStanding]:
        """What the LTV state machine needs to carry on after a restart."""


class InspectionStore(Protocol):
    """Recorded inspections (physical counts), in the order they were recorded."""

    def add(self, inspection: Inspection, recorded_by: str) -> int:
        """Its id; ids grow in the order of recording."""

    def last_id(self) -> int:
        """0 when none is recorded."""

    def after(self, cursor: int) -> list[tuple[int, Inspection]]: ...

    def last_by_lot(self) -> dict[str, Inspection]: ...

    def recorded_between(self, from_s: float, to_s: float) -> list[Inspection]:
        """Counts made with from_s <= at_s < to_s, oldest first."""


@dataclass(frozen=True)
class LeaseFence:
    """A monitor's hold on a partition: `token` grows at every takeover, so a write made
    under an older token (a monitor that stalled past its lease) is refused."""
    partition: int
    owner: str
    token: int


class LeaseLost(Exception):
    """The partition's lease is no longer the writer's: it was taken over."""


@dataclass(frozen=True)
class HeldLease:
    fence: LeaseFence
    cursors: dict[str, int]  # where the last owner got to (quarantine, inspections)


class PartitionLeases(Protocol):
    """Leases on the monitor partitions, shared by the monitors of every host."""

    def heartbeat(self, owner: str, now_s: float, lease_s: float) -> int:
        """Say this monitor is alive; how many monitors are (itself included)."""

    def renew(self, owner: str, now_s: float, lease_s: float) -> list[LeaseFence]:
        """Extend every lease this owner still holds; the ones it holds."""

    def free(self, count: int, now_s: float) -> list[int]:
        """Partitions (of `count`) that no one holds, or whose lease ran out."""

    def take(self, partition: int, owner: str, now_s: float, lease_s: float) -> HeldLease | None:
        """Take a free or expired lease; None when another monitor was faster."""

    def checkpoint(self, fence: LeaseFence, cursors: dict[str, int], expires_at_s: float) -> bool:
        """After a tick: keep the cursors and extend the lease; False when it is no longer held."""

    def release(self, fence: LeaseFence) -> None:
        """Give the partition back at once (a clean stop, or more than a fair share)."""

    def leave(self, owner: str) -> None:
        """This monitor stops: it no longer counts as alive."""
