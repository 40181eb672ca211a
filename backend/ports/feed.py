"""Port of the live feed: the dashboard's events, from whichever process made them to the
event streams of every API process."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Protocol


@dataclass(frozen=True)
class BusEvent:
    type: str                # alert.opened | alert.acknowledged | alert.resolved | loan.status_changed
                             # | loan.updated | gateway.status_changed
                             # | inspection.opened | inspection.overdue | inspection.recorded
    lender: str | None       # the lender it concerns; None: staff only
    data: Mapping[str, Any]  # JSON-ready except Decimal (sent as a string)


class LiveFeed(Protocol):
    """Events published by one process reach every other listening process."""

    def publish(self, events: Iterable[BusEvent]) -> None:
        """Never raises: a lost live event is one the dashboard shows at its next reload."""

    def start(self, deliver: Callable[[list[BusEvent]], None]) -> None:
        """Listen on a thread: `deliver` gets what the other processes publish."""

    def stop(self) -> None: ...
