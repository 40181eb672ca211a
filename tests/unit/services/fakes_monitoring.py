"""In-memory fakes of the monitoring and market ports (backend/ports: alerts, monitor,
registry, prices, audit), a small book to run them on, and a settable clock.

Each fake keeps what a SQL adapter would, in dicts and lists, with the same answers the
port promises (ids grow, `find` is newest first, `take_notices` hands each out once).
FakeReadings and FakeLedger cover only what the monitor reads of the ingest ports."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Mapping, Sequence

from backend.domain import registry as reg
from backend.domain.alerts import AlertOpened, AlertResolved, Condition
from backend.domain.evidence import Entry
from backend.domain.inspections import Inspection
from backend.domain.ltv import LoanStanding
from backend.domain.observations import PriceTick
from backend.ports.access import AuditEntry
from backend.ports.alerts import AlertComment, AlertRecord
from backend.ports.ingest import ReadingQuery, StoredReading, UntrustedMessage
from backend.ports.monitor import HistoryPoint, StandingRecord
from backend.ports.prices import Emit, FxMark, PriceSourceError, Quote
from backend.ports.registry import AlreadyPledged, DuplicateEntity


class Clock:
    def __init__(self, now_s: float = 1_767_000_000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


# -- the book ------------------------------------------------------------------------------

def lot(lot_id: str, warehouse: str = "wh-1", items: int = 10) -> reg.Lot:
    tagged = tuple(reg.TaggedItem(f"{lot_id}-{n:04d}", Decimal(1), 1000.0) for n in range(items))
    return reg.Lot(lot_id, warehouse, "steel", tagged, f"{lot_id}-scale", f"{lot_id}-rfid")


def loan(loan_id: str, lender: str, lots: tuple[str, ...], outstanding: int = 40_000) -> reg.Loan:
    return reg.Loan(loan_id, lender, "acme", Decimal(outstanding), "CNY", lots, Decimal("0.10"),
                    reg.Thresholds(Decimal("0.70"), Decimal("0.80"), Decimal("0.90")), Decimal("0.60"), 3600)


def book(lots: Sequence[reg.Lot] = (), loans: Sequence[reg.Loan] = ()) -> reg.Registry:
    """Two lenders, two warehouses (gw-1, gw-2), steel priced per tonne in CNY; by default
    lot-1 backs bank-a's loan-a and lot-2 backs bank-b's loan-b."""
    lots = lots or (lot("lot-1"), lot("lot-2", "wh-2"))
    loans = loans or (loan("loan-a", "bank-a", ("lot-1",)), loan("loan-b", "bank-b", ("lot-2",)))
    warehouses = {"wh-1": reg.Warehouse("wh-1", "gw-1"), "wh-2": reg.Warehouse("wh-2", "gw-2")}
    lots_by_id = {x.id: x for x in lots}
    return reg.Registry(
        lenders={"bank-a": reg.Lender("bank-a"), "bank-b": reg.Lender("bank-b")},
        borrowers={"acme": reg.Borrower("acme")}, warehouses=warehouses,
        gateways={"gw-1": reg.Gateway("gw-1", "wh-1"), "gw-2": reg.Gateway("gw-2", "wh-2")},
        sensors=reg.derive_sensors(lots_by_id, warehouses),
        commodities={"steel": reg.Commodity("steel", "t", False, None, 3600)},
        lots=lots_by_id, loans={x.id: x for x in loans})


# -- ports.registry ------------------------------------------------------------------------

class FakeRegistryStore:
    def __init__(self, registry: reg.Registry | None = None) -> None:
        self.registry = registry if registry is not None else reg.Registry()
        self._version = 0
        self.notices: list[tuple[Condition, float]] = []
        self.logged: list[Entry] = []             # the log entries each write appended
        self.loads = 0

    def version(self) -> int:
        return self._version

    def load(self) -> reg.Registry:
        self.loads += 1
        return self.registry

    def _write(self, **changes) -> None:
        self.registry = replace(self.registry, **changes)
        self._version += 1

    def add(self, registry_delta: reg.Registry, entries: Sequence[Entry] = ()) -> None:
        names = ("lenders", "borrowers", "warehouses", "gateways", "sensors", "commodities", "lots", "loans")
        for name in names:
            clash = getattr(registry_delta, name).keys() & getattr(self.registry, name).keys()
            if clash:
                raise DuplicateEntity(f"{name}: {sorted(clash)}")
        self._write(**{name: {**getattr(self.registry, name), **getattr(registry_delta, name)} for name in names})
        self.logged += entries

    def pledge(self, loan_id: str, lot_id: str, entries: Sequence[Entry] = ()) -> None:
        if lot_id in self.registry.loan_of_lot:
            raise AlreadyPledged(lot_id)
        self.logged += entries
        holder = self.registry.loans[loan_id]
        self._write(loans={**self.registry.loans, loan_id: replace(holder, lot_ids=holder.lot_ids + (lot_id,))})

    def add_notice(self, notice: Condition | None, at_s: float, entries: Sequence[Entry] = ()) -> None:
        if notice is not None:
            self.notices.append((notice, at_s))
        self.logged += entries

    def take_notices(self, wanted=None) -> list[Condition]:
        taken = [notice for notice, _ in self.notices if wanted is None or wanted(notice)]
        self.notices = [(notice, at_s) for notice, at_s in self.notices if notice not in taken]
        return taken


# -- ports.alerts --------------------------------------------------------------------------

class FakeAlerts:
    def __init__(self) -> None:
        self.records: dict[str, AlertRecord] = {}
        self.applied: list[Sequence[object]] = []

    def apply(self, events: Sequence[object], subjects: Mapping[str, str], fence=None) -> None:
        self.applied.append(list(events))
        for event in events:
            if isinstance(event, AlertOpened):
                a = event.alert
                self.records[a.id] = AlertRecord(a.id, a.type, subjects[a.id], a.severity, "open", a.opened_at_s,
                                                 None, None, None, None, None, a.loan, a.lot, a.lender, a.gateway,
                                                 dict(a.details))
            elif isinstance(event, AlertResolved):
                self.records[event.alert.id] = replace(self.records[event.alert.id], state="resolved",
                                                       resolved_at_s=event.alert.resolved_at_s)

    def add(self, record: AlertRecord) -> AlertRecord:
        """Test set-up: an alert as if the monitor had stored it."""
        self.records[record.id] = record
        return record

    def active(self) -> list[AlertRecord]:
        return [r for r in self.records.values() if r.state != "resolved"]

    def resolved_by_people_since(self, since_s: float) -> list[AlertRecord]:
        return [r for r in self.records.values()
                if r.resolved_by is not None and r.resolved_at_s is not None and r.resolved_at_s >= since_s]

    def find(self, *, state: str | None = None, type_: str | None = None,
             lender: str | None = None, limit: int = 100, offset: int = 0) -> list[AlertRecord]:
        found = [r for r in self.records.values() if (state is None or r.state == state)
                 and (type_ is None or r.type == type_) and (lender is None or r.lender == lender)]
        found.sort(key=lambda r: (-r.opened_at_s, r.id))
        return found[offset:offset + limit]

    def get(self, alert_id: str) -> AlertRecord | None:
        return self.records.get(alert_id)

    def overlapping(self, lender: str, from_s: float, to_s: float) -> list[AlertRecord]:
        return sorted((r for r in self.records.values() if r.lender == lender and r.opened_at_s < to_s
                       and (r.resolved_at_s is None or r.resolved_at_s >= from_s)),
                      key=lambda r: (r.opened_at_s, r.id))

    def acknowledge(self, alert_id: str, by: str, note: str | None, at_s: float) -> bool:
        record = self.records.get(alert_id)
        if record is None or record.state != "open":
            return False
        self.records[alert_id] = replace(record, state="acknowledged", acknowledged_at_s=at_s,
                                         acknowledged_by=by, ack_note=note)
        return True

    def resolve(self, alert_id: str, by: str, at_s: float) -> bool:
        record = self.records.get(alert_id)
        if record is None or record.state == "resolved":
            return False
        self.records[alert_id] = replace(record, state="resolved", resolved_at_s=at_s, resolved_by=by)
        return True


def alert_record(alert_id: str, type_: str = "stock_shortfall", *, lender: str | None = "bank-a",
                 lot_id: str | None = "lot-1", loan_id: str | None = "loan-a", severity: str = "critical",
                 state: str = "open", opened_at_s: float = 1_767_000_000.0) -> AlertRecord:
    return AlertRecord(alert_id, type_, lot_id or alert_id, severity, state, opened_at_s, None, None, None,
                       None, None, loan_id, lot_id, lender, "gw-1", {})


class FakeAlertInbox:
    def __init__(self) -> None:
        self.assigned: dict[str, str] = {}
        self.notes: list[AlertComment] = []

    def assign(self, alert_id: str, assignee: str | None, by: str, at_s: float) -> None:
        if assignee is None:
            self.assigned.pop(alert_id, None)
        else:
            self.assigned[alert_id] = assignee

    def assignees(self, alert_ids: Sequence[str]) -> dict[str, str]:
        return {alert_id: self.assigned[alert_id] for alert_id in alert_ids if alert_id in self.assigned}

    def add_comment(self, comment: AlertComment) -> None:
        self.notes.append(comment)

    def comments(self, alert_id: str) -> list[AlertComment]:
        return [c for c in self.notes if c.alert_id == alert_id]


# -- ports.monitor -------------------------------------------------------------------------

class FakeStandings:
    def __init__(self) -> None:
        self.records: dict[str, StandingRecord] = {}
        self.points: list[HistoryPoint] = []

    def save(self, records: Sequence[StandingRecord]) -> None:
        self.records.update({r.loan_id: r for r in records})

    def all(self) -> dict[str, StandingRecord]:
        return dict(self.records)

    def of_loans(self, loan_ids) -> dict[str, StandingRecord]:
        return {loan_id: self.records[loan_id] for loan_id in loan_ids if loan_id in self.records}

    def append_history(self, points: Sequence[HistoryPoint]) -> None:
        self.points.extend(points)

    def history(self, loan_id: str, from_s: float, to_s: float, limit: int) -> list[HistoryPoint]:
        found = sorted((p for p in self.points if p.loan_id == loan_id and from_s <= p.at_s < to_s),
                       key=lambda p: p.at_s)
        return found[:limit]

    def standings(self) -> dict[str, LoanStanding]:
        return {loan_id: LoanStanding(r.status, r.updated_at_s, r.cure_deadline_s) for loan_id, r in self.records.items()}


class FakeInspections:
    def __init__(self) -> None:
        self.rows: list[tuple[int, Inspection, str]] = []

    def add(self, inspection: Inspection, recorded_by: str) -> int:
        self.rows.append((len(self.rows) + 1, inspection, recorded_by))
        return len(self.rows)

    def last_id(self) -> int:
        return len(self.rows)

    def after(self, cursor: int) -> list[tuple[int, Inspection]]:
        return [(row_id, inspection) for row_id, inspection, _ in self.rows if row_id > cursor]

    def last_by_lot(self) -> dict[str, Inspection]:
        return {inspection.lot_id: inspection for _, inspection, _ in self.rows}

    def recorded_between(self, from_s: float, to_s: float) -> list[Inspection]:
        return [inspection for _, inspection, _ in self.rows if from_s <= inspection.at_s < to_s]


# -- ports.prices --------------------------------------------------------------------------

class FakePriceMarks:
    def __init__(self) -> None:
        self.marks: list[tuple[int, PriceTick, str]] = []
        self.fx: list[tuple[int, FxMark, str]] = []

    def add(self, tick: PriceTick, source: str) -> int:
        self.marks.append((len(self.marks) + 1, tick, source))
        return len(self.marks)

    def after(self, mark_id: int) -> list[tuple[int, PriceTick]]:
        return [(i, tick) for i, tick, _ in self.marks if i > mark_id]

    def latest(self, commodity_id: str) -> PriceTick | None:
        ticks = [(tick.at_s, i, tick) for i, tick, _ in self.marks if tick.commodity_id == commodity_id]
        return max(ticks, key=lambda t: t[:2])[2] if ticks else None

    def history(self, commodity_id: str, from_s: float, to_s: float, limit: int) -> list[tuple[PriceTick, str]]:
        found = sorted(((tick.at_s, i, tick, source) for i, tick, source in self.marks
                        if tick.commodity_id == commodity_id and from_s <= tick.at_s < to_s), key=lambda t: t[:2])
        return [(tick, source) for _, _, tick, source in found[:limit]]

    def closes(self, commodity_id: str, instants) -> list[PriceTick | None]:
        def before(at_s):
            ticks = [(tick.at_s, i, tick) for i, tick, _ in self.marks if tick.commodity_id == commodity_id
                     and tick.at_s < at_s]
            return max(ticks, key=lambda t: t[:2])[2] if ticks else None
        return [before(at_s) for at_s in instants]

    def add_fx(self, mark: FxMark, source: str) -> int:
        self.fx.append((len(self.fx) + 1, mark, source))
        return len(self.fx)

    def fx_after(self, mark_id: int) -> list[tuple[int, FxMark]]:
        return [(i, mark) for i, mark, _ in self.fx if i > mark_id]

    def latest_fx(self, base: str, quote: str) -> FxMark | None:
        marks = [(mark.at_s, i, mark) for i, mark, _ in self.fx if (mark.base, mark.quote) == (base, quote)]
        return max(marks, key=lambda t: t[:2])[2] if marks else None


class FakePolledSource:
    """Hands out the quotes queued in `pending` at each poll; fails when `failing`."""

    def __init__(self, name: str, interval_s: float = 10.0) -> None:
        self.name, self.interval_s = name, interval_s
        self.pending: list[Quote] = []
        self.polls: list[float] = []
        self.failing = False

    def poll(self, now_s: float) -> Sequence[Quote]:
        self.polls.append(now_s)
        if self.failing:
            raise PriceSourceError("the vendor is down")
        quotes, self.pending = self.pending, []
        return quotes


class FakePushedSource:
    def __init__(self, name: str) -> None:
        self.name = name
        self.emit: Emit | None = None
        self.stopped = False

    def start(self, emit: Emit) -> None:
        self.emit = emit

    def stop(self) -> None:
        self.stopped = True


# -- ports.access (the audit log) ---------------------------------------------------------------------------

class FakeAuditLog:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def recent(self, limit: int, offset: int = 0) -> list[AuditEntry]:
        return list(reversed(self.entries))[offset:offset + limit]


# -- what the monitor reads of the ingest ports --------------------------------------------

class FakeReadings:
    """ReadingStore.query over readings added with `add` (ids given in order)."""

    def __init__(self) -> None:
        self.rows: list[StoredReading] = []

    def add(self, gateway: str, sensor: str, kind: str, time_ms: int, values: Mapping, *,
            quality: str = "good", historical: bool = False) -> StoredReading:
        row = StoredReading(len(self.rows) + 1, gateway, sensor, kind, time_ms, quality, dict(values), historical)
        self.rows.append(row)
        return row

    def query(self, query: ReadingQuery) -> list[StoredReading]:
        found = [r for r in self.rows if r.id > query.after_id
                 and (query.from_ms is None or r.time_ms >= query.from_ms)
                 and (query.to_ms is None or r.time_ms < query.to_ms)]
        return found[:query.limit]


class FakeLedger:
    """IngestLedger's quarantine of forged messages (what the monitor reads)."""

    def __init__(self) -> None:
        self.forged: list[UntrustedMessage] = []

    def forge(self, gateway: str, received_at_ms: int, reason: str = "bad_signature") -> None:
        self.forged.append(UntrustedMessage(len(self.forged) + 1, gateway, received_at_ms, reason, b"{}"))

    def forged_since(self, after_id: int) -> list[UntrustedMessage]:
        return [m for m in self.forged if m.quarantine_id > after_id]

    def last_quarantine_id(self) -> int:
        return len(self.forged)
