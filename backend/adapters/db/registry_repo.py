"""The collateral registry in the relational database, loaded as a domain `Registry`
(port: backend.ports.registry.RegistryStore)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Callable, Sequence

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from backend.adapters.db import tables as t
from backend.adapters.db.evidence_repo import append_entries
from backend.domain import registry as reg
from backend.domain.alerts import Condition
from backend.domain.evidence import Entry
from backend.ports.registry import AlreadyPledged, DuplicateEntity


class SqlRegistry:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reading ---------------------------------------------------------------------

    def version(self) -> int:
        """Moves with every write below, whichever process made it."""
        with self.engine.connect() as db:
            return db.scalar(select(t.registry_version.c.version)) or 0

    def load(self) -> reg.Registry:
        with self.engine.connect() as db:
            warehouses = {r.id: reg.Warehouse(r.id, r.gateway_id) for r in db.execute(select(t.warehouses))}
            commodities = {r.id: reg.Commodity(r.id, r.unit, r.perishable, r.temperature_max_c,
                                               r.price_max_age_s, r.quality_loss_per_degree_minute,
                                               _schedule(r))
                           for r in db.execute(select(t.commodities))}
            items: dict[str, list[reg.TaggedItem]] = {}
            for r in db.execute(select(t.lot_items).order_by(t.lot_items.c.epc)):
                items.setdefault(r.lot_id, []).append(reg.TaggedItem(r.epc, r.quantity, r.weight_kg))
            lots = {r.id: reg.Lot(r.id, r.warehouse_id, r.commodity_id, tuple(items.get(r.id, ())),
                                  r.scale_id, r.reader_id, r.probe_id, r.tare_kg)
                    for r in db.execute(select(t.lots))}
            lots_of_loan: dict[str, list[str]] = {}
            for r in db.execute(select(t.loan_lots).where(t.loan_lots.c.active)
                                .order_by(t.loan_lots.c.position)):
                lots_of_loan.setdefault(r.loan_id, []).append(r.lot_id)
            loans = {r.id: _loan(r, tuple(lots_of_loan.get(r.id, ()))) for r in db.execute(select(t.loans))}
            releases = tuple(reg.ReleaseOrder(r.id, r.loan_id, r.lot_id, frozenset(r.epcs),
                                              r.approved_by, r.repayment, r.at_s)
                             for r in db.execute(select(t.releases).order_by(t.releases.c.at_s)))
            repayments = tuple(reg.Repayment(r.loan_id, r.amount, r.at_s)  # a pending one changes nothing
                               for r in db.execute(select(t.repayments).where(t.repayments.c.state == "confirmed")
                                                   .order_by(t.repayments.c.id)))
            open_orders = select(t.delivery_orders).where(t.delivery_orders.c.state.in_(("issued", "acknowledged")))
            orders = tuple(reg.DeliveryOrder(r.id, r.loan_id, r.lot_id, frozenset(r.epcs), r.issued_at_s,
                                             r.valid_until_s)
                           for r in db.execute(open_orders.order_by(t.delivery_orders.c.issued_at_s)))
            lenders = {r.id: reg.Lender(r.id) for r in db.execute(select(t.lenders))}
            borrowers = {r.id: reg.Borrower(r.id) for r in db.execute(select(t.borrowers))}
        gateways = {w.gateway_id: reg.Gateway(w.gateway_id, w.id) for w in warehouses.values()}
        return reg.Registry(lenders, borrowers, warehouses, gateways, reg.derive_sensors(lots, warehouses),
                            commodities, lots, loans, releases, repayments, orders)

    # -- writing ---------------------------------------------------------------------

    def add(self, registry_delta: reg.Registry, entries: Sequence[Entry]) -> None:
        """Insert every entity of `registry_delta` (a registry holding only new entities)."""
        with self.engine.begin() as db:
            try:
                _insert_all(db, registry_delta)
            except IntegrityError as exc:
                raise DuplicateEntity(str(exc.orig).splitlines()[0]) from exc
            _bump_version(db)
            append_entries(db, entries)

    def pledge(self, loan_id: str, lot_id: str, entries: Sequence[Entry]) -> None:
        with self.engine.begin() as db:
            position = db.scalar(select(func.count()).select_from(t.loan_lots)
                                 .where(t.loan_lots.c.loan_id == loan_id))
            try:
                db.execute(insert(t.loan_lots).values(loan_id=loan_id, lot_id=lot_id,
                                                      position=position, active=True))
            except IntegrityError as exc:
                raise AlreadyPledged(lot_id) from exc
            _bump_version(db)
            append_entries(db, entries)

    # -- notices for the monitor -----------------------------------------------------------

    def add_notice(self, notice: Condition | None, at_s: float, entries: Sequence[Entry] = ()) -> None:
        with self.engine.begin() as db:
            if notice is not None:
                db.execute(insert(t.registry_notices).values(at_s=at_s, condition=asdict(notice)))
            append_entries(db, entries)

    def take_notices(self, wanted: Callable[[Condition], bool] | None = None) -> list[Condition]:
        """The waiting notices (the wanted ones), oldest first; taken, they are gone."""
        with self.engine.begin() as db:
            rows = db.execute(select(t.registry_notices).order_by(t.registry_notices.c.id)
                              .with_for_update(skip_locked=True)).all()
            taken = [(row.id, Condition(**row.condition)) for row in rows]
            taken = [(row_id, c) for row_id, c in taken if wanted is None or wanted(c)]
            if taken:
                db.execute(delete(t.registry_notices).where(t.registry_notices.c.id.in_([i for i, _ in taken])))
        return [condition for _, condition in taken]


def _bump_version(db) -> None:
    db.execute(update(t.registry_version).values(version=t.registry_version.c.version + 1))


def _loan(row, lot_ids: tuple[str, ...]) -> reg.Loan:
    return reg.Loan(row.id, row.lender_id, row.borrower_id, row.outstanding, row.currency, lot_ids,
                    row.haircut, reg.Thresholds(row.warning, row.margin_call, row.liquidation),
                    row.target_ltv, row.cure_period_s, _schedule(row),
                    reg.Interest(row.interest_rate, row.day_count) if row.interest_rate is not None else None,
                    row.interest_accrued_to_s, row.closed_at_s)


def _schedule(row) -> reg.UnverifiedSchedule | None:
    if row.unverified_grace_s is None:
        return None
    return reg.UnverifiedSchedule(row.unverified_grace_s, row.unverified_zero_after_s)


def _schedule_columns(schedule: reg.UnverifiedSchedule | None) -> dict:
    return {"unverified_grace_s": schedule.grace_s if schedule else None,
            "unverified_zero_after_s": schedule.zero_after_s if schedule else None}


def _insert_all(db, new: reg.Registry) -> None:
    for table, rows in (
        (t.lenders, [{"id": x.id} for x in new.lenders.values()]),
        (t.borrowers, [{"id": x.id} for x in new.borrowers.values()]),
        (t.commodities, [{"id": c.id, "unit": c.unit, "perishable": c.perishable,
                          "temperature_max_c": c.temperature_max_c, "price_max_age_s": c.price_max_age_s,
                          "quality_loss_per_degree_minute": c.quality_loss_per_degree_minute,
                          **_schedule_columns(c.unverified)}
                         for c in new.commodities.values()]),
        (t.warehouses, [{"id": w.id, "gateway_id": w.gateway_id} for w in new.warehouses.values()]),
        (t.lots, [{"id": lot.id, "warehouse_id": lot.warehouse_id, "commodity_id": lot.commodity_id,
                   "scale_id": lot.scale_id, "reader_id": lot.reader_id, "probe_id": lot.probe_id,
                   "tare_kg": lot.tare_kg} for lot in new.lots.values()]),
        (t.lot_items, [{"epc": i.epc, "lot_id": lot.id, "quantity": i.quantity, "weight_kg": i.weight_kg}
                       for lot in new.lots.values() for i in lot.items]),
        (t.loans, [{"id": x.id, "lender_id": x.lender_id, "borrower_id": x.borrower_id,
                    "outstanding": x.outstanding, "currency": x.currency, "haircut": x.haircut,
                    "warning": x.thresholds.warning, "margin_call": x.thresholds.margin_call,
                    "liquidation": x.thresholds.liquidation, "target_ltv": x.target_ltv,
                    "cure_period_s": x.cure_period_s, **_schedule_columns(x.unverified),
                    "interest_rate": x.interest.rate if x.interest else None,
                    "day_count": x.interest.day_count if x.interest else None,
                    "interest_accrued_to_s": x.interest_accrued_to_s, "closed_at_s": x.closed_at_s}
                   for x in new.loans.values()]),
        (t.loan_lots, [{"loan_id": x.id, "lot_id": lot_id, "position": n, "active": True}
                       for x in new.loans.values() for n, lot_id in enumerate(x.lot_ids)]),
    ):
        if rows:
            db.execute(insert(table), rows)
