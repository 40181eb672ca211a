"""Inspections: the tasks the book asks for (unverified collateral, a critical alert on a
lot) and the physical counts supervisors record; the monitor judges each count."""
from __future__ import annotations

from decimal import Decimal
from typing import Callable

from backend.domain import inspections
from backend.domain.config import MonitorConfig
from backend.ports.alerts import AlertStore
from backend.ports.monitor import InspectionStore
from backend.services.registry import NotFound, RegistryService


class InspectionService:
    def __init__(self, *, registry: RegistryService, alerts: AlertStore, repo: InspectionStore,
                 config: MonitorConfig, clock: Callable[[], float]) -> None:
        self.registry, self.alerts, self.repo = registry, alerts, repo
        self.config, self.clock = config, clock

    def record(self, lot_id: str, items: int, quantity: Decimal, temperature_c: float | None,
               note: str, recorded_by: str) -> tuple[int, inspections.Inspection]:
        if lot_id not in self.registry.snapshot().lots:
            raise NotFound(f"no lot {lot_id!r}")
        count = inspections.Inspection(lot_id, items, quantity, self.clock(), temperature_c, note)
        return self.repo.add(count, recorded_by), count

    def tasks(self, lender: str | None = None) -> list[inspections.Task]:
        """Every task (lender None), or those on the lender's loans."""
        found = inspections.tasks(self.alerts.active(), self.repo.last_by_lot(),
                                  self.registry.snapshot(), self.clock(), self.config)
        return [task for task in found if lender is None or task.lender_id == lender]
