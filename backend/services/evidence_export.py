"""`evidence export`: a loan's dispute pack, from the log, the envelope archive and the
database's rows (format and checks: backend/services/evidence_pack.py).

The database's rows are read first and the head checkpoint signed after, so every row read
has its entry (written in the same transaction, or just after) inside the head's tree.
"""
from __future__ import annotations

import json
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from heapq import merge
from typing import Any, Callable, ContextManager

from backend.domain import evidence, tlog
from backend.domain.registry import Registry
from backend.ports.alerts import AlertRecord, AlertStore
from backend.ports.evidence import EnvelopeArchive, LoggedEntry, LogStore, PackWriter, StoredCheckpoint
from backend.ports.money import CollateralStore, MoneyStore
from backend.ports.prices import PriceMarkStore
from backend.services import access
from backend.services.api_keys import Principal
from backend.services.evidence import EvidenceNotFound, EvidenceService
from backend.services.evidence_pack import (
    ALERTS,
    BATCHES,
    CHECKPOINTS,
    COLLATERAL,
    DRAWDOWNS,
    ENTRIES,
    FORMAT,
    FX,
    HEAD,
    INTEREST,
    MANIFEST,
    PRICES,
    REPAYMENTS,
    REPORT,
    TREE,
    b64,
)
from backend.services.evidence_report import BatchDay, render_report

MAX_S = 2**53 - 1
SLACK_S = 86_400             # marks logged up to a day from their quote time
CHECKPOINTS_BEFORE_S = 30 * 86_400  # earlier checkpoints a bank may hold, proven consistent with the head
_GATEWAY_KEYS = ["gateway_key.registered", "gateway_key.rotated"]
_LOAN_LIFE = ["loan.created", "lot.created", "pledge", "pledge.requested", "pledge.rejected", "pledge.refused",
         "substitution", "substitution.requested", "substitution.rejected", "substitution.refused",
         "repayment", "repayment.entered", "repayment.rejected", "drawdown", "interest.posted", "loan.closed"]


@dataclass(frozen=True)
class ExportSummary:
    loan: str
    head_size: int
    entries: int
    envelopes: int


class CachedTree:
    """A LogStore's subtree hashes, each read once (proofs of nearby entries share nodes)."""

    def __init__(self, store: LogStore) -> None:
        self.store, self.cache = store, {}

    def subtree_hash(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self.cache:
            self.cache[key] = self.store.subtree_hash(level, index)
        return self.cache[key]


class EvidenceExporter:
    def __init__(self, *, log_store: LogStore, archive: EnvelopeArchive, evidence_service: EvidenceService,
                 registry: Callable[[], Registry], alerts: AlertStore, prices: PriceMarkStore,
                 money: MoneyStore, collateral: CollateralStore,
                 clock: Callable[[], float], open_pack: Callable[[str], ContextManager[PackWriter]]) -> None:
        self.log, self.archive, self.service, self.registry = log_store, archive, evidence_service, registry
        self.alerts, self.prices, self.money, self.collateral = alerts, prices, money, collateral
        self.clock, self.open_pack = clock, open_pack

    def export_for(self, caller: Principal, loan_id: str, from_s: int, to_s: int, path: str) -> ExportSummary:
        """As `export`, for a caller who may see the loan (404 for the others)."""
        if not access.sees_loan(caller, self.registry(), loan_id):
            raise EvidenceNotFound(f"no loan {loan_id!r}")
        return self.export(loan_id, from_s, to_s, path)

    def export(self, loan_id: str, from_s: int, to_s: int, path: str) -> ExportSummary:
        """Write the loan's pack for [from_s, to_s] to the file `path`."""
        if loan_id not in self.registry().loans:
            raise EvidenceNotFound(f"no loan {loan_id!r}")
        with self.open_pack(path) as out:
            return self._export(loan_id, from_s, to_s, out)

    def _export(self, loan_id: str, from_s: int, to_s: int, out: PackWriter) -> ExportSummary:
        registry = self.registry()
        scope = evidence.loan_scope(registry, loan_id)
        rows = self._database_rows(scope, registry, loan_id, from_s, to_s)
        head = self.service.sign_checkpoint()
        tree = CachedTree(self.log)
        entries = self._entries(scope, rows[ALERTS], from_s, to_s, head.size)
        out.write(ENTRIES, b"".join(self._entry_line(tree, entry, head.size) for entry in entries))
        days: dict[tuple[int, str], BatchDay] = {}
        batch_indices: array[int] = array("q")
        out.write_chunks(BATCHES, self._batches(scope, from_s, to_s, head.size, batch_indices, days))
        indices = list(merge([e.index for e in entries], batch_indices))
        out.write(TREE, _json({"size": head.size, "proof": [b64(h) for h in self._multi_proof(indices, head.size)]}))
        out.write(HEAD, self.service.with_cosignatures(head).encode())
        earlier = self._earlier_checkpoints(tree, head, from_s)
        out.write(CHECKPOINTS, _json(earlier))
        for name, value in rows.items():
            out.write(name, _json(value))
        manifest = {"format": FORMAT, "loan": loan_id, "lender": registry.loans[loan_id].lender_id,
                    "lots": sorted(scope.lots), "gateways": sorted(scope.gateways), "from_s": from_s, "to_s": to_s,
                    "created_at_s": int(self.clock()), "log_vkey": self.service.verifier.vkey(),
                    "witness_vkeys": sorted(v.vkey() for keys in self.service.witnesses.values() for v in keys),
                    "head_size": head.size, "entries": len(entries), "envelopes": len(batch_indices)}
        out.write(MANIFEST, _json(manifest))
        parsed = [(e.index, evidence.parse_leaf(e.leaf)) for e in entries]
        out.write(REPORT, render_report(manifest, parsed, sorted(days.values(), key=lambda d: (d.day_s, d.gateway)),
                                        head.note, [c["size"] for c in earlier]).encode())
        return ExportSummary(loan_id, head.size, len(entries), len(batch_indices))

    # -- what the database says -----------------------------------------------------------
    def _database_rows(self, scope: evidence.Scope, registry: Registry, loan_id: str,
                       from_s: int, to_s: int) -> dict[str, list[dict[str, Any]]]:
        currency = registry.loans[loan_id].currency
        prices = [{"commodity": tick.commodity_id, "price": str(tick.price), "currency": tick.currency,
                   "unit": tick.per_unit, "source": source, "observed_at_s": int(tick.at_s)}
                  for commodity in sorted(scope.commodities)
                  for tick, source in self.prices.history(commodity, from_s, to_s + 1, 1_000_000)]
        fx = [{"base": mark.base, "quote": mark.quote, "rate": str(mark.rate), "observed_at_s": int(mark.at_s)}
              for _, mark in self.prices.fx_after(0)
              if currency in (mark.base, mark.quote) and from_s <= mark.at_s <= to_s]
        return {ALERTS: [_alert_row(a) for a in self._alerts(scope, from_s, to_s)], PRICES: prices, FX: fx,
                **self._money_rows(loan_id)}

    def _money_rows(self, loan_id: str) -> dict[str, list[dict[str, Any]]]:
        """All of the loan's money rows, whenever decided (a loan's decisions are few; the pack
        shows the terms and every movement that led to the window, and the log's entries of each)."""
        requests = [r for kind in ("pledge", "substitution") for r in self.collateral.requests(loan_id, kind)]
        return {
            REPAYMENTS: [{"id": r.id, "amount": str(r.amount), "state": r.state, "entered_by": r.entered_by,
                          "at_s": r.at_s, "decided_by": r.decided_by, "decided_at_s": r.decided_at_s,
                          "reason": r.reason}
                         for r in self.money.repayments(loan_id) if r.entered_by],  # a release's is logged with it
            COLLATERAL: [{"id": r.id, "kind": r.kind, "pledge_lot": r.pledge_lot, "release_lot": r.release_lot,
                          "state": r.state, "requested_by": r.requested_by, "at_s": r.at_s,
                          "decided_by": r.decided_by, "decided_at_s": r.decided_at_s, "reason": r.reason}
                         for r in requests],
            DRAWDOWNS: [{"id": d.id, "amount": str(d.amount), "by": d.by, "at_s": d.at_s}
                        for d in self.money.drawdowns(loan_id)],
            INTEREST: [{"amount": str(p.amount), "days": p.days, "from_s": p.from_s, "to_s": p.to_s}
                       for p in self.money.interest_postings(loan_id)]}

    def _alerts(self, scope: evidence.Scope, from_s: int, to_s: int) -> list[AlertRecord]:
        found, offset = [], 0
        lender = next(iter(scope.lenders))
        while True:
            page = self.alerts.find(lender=lender, limit=1000, offset=offset)
            found += [a for a in page if (a.loan in scope.loans or a.lot in scope.lots)
                      and from_s <= a.opened_at_s <= to_s]
            if len(page) < 1000:
                return sorted(found, key=lambda a: (a.opened_at_s, a.id))
            offset += 1000

    # -- the log --------------------------------------------------------------------------
    def _entries(self, scope: evidence.Scope, alerts: list[dict[str, Any]], from_s: int, to_s: int,
                 size: int) -> list[LoggedEntry]:
        named = [(n, v) for n, v in scope.subjects() if n in ("loan", "lot", "gateway", "commodity")]
        found = self.log.about(named, from_s, to_s)
        found += self.log.about([("commodity", c) for c in sorted(scope.commodities)], from_s - SLACK_S,
                                to_s + SLACK_S, ["price_mark.used"])
        found += self.log.about([("gateway", g) for g in sorted(scope.gateways)], 0, MAX_S, _GATEWAY_KEYS)
        found += self.log.of_kinds(["fx_rate.used"], from_s - SLACK_S, to_s + SLACK_S)
        found += self.log.about([("alert", row["id"]) for row in alerts], 0, MAX_S)
        found += self.log.about([(n, v) for n, v in named if n in ("loan", "lot")], 0, MAX_S, _LOAN_LIFE)
        unique = {e.index: e for e in found if e.index < size and scope.covers(evidence.parse_leaf(e.leaf))}
        return [unique[index] for index in sorted(unique)]

    @staticmethod
    def _entry_line(tree: CachedTree, entry: LoggedEntry, size: int) -> bytes:
        proof = tlog.inclusion_proof(tree, entry.index, size)
        return _json({"index": entry.index, "leaf": entry.leaf.decode(), "proof": [b64(h) for h in proof]}) + b"\n"

    def _batches(self, scope: evidence.Scope, from_s: int, to_s: int, size: int, indices: array[int],
                 days: dict[tuple[int, str], BatchDay]) -> Iterator[bytes]:
        chunk: list[bytes] = []
        for index, gateway, at_s, payload in self.archive.window(sorted(scope.gateways), from_s * 1000,
                                                                 to_s * 1000 + 999):
            if index >= size:
                break
            indices.append(index)
            chunk.append(b"%d %d %d\n%b\n" % (index, at_s, len(payload), payload))  # evidence_pack.batch_record
            key = (at_s // 86_400, gateway)
            day = days.get(key)
            if day is None:
                day = days[key] = BatchDay(key[0] * 86_400, gateway)
            day.envelopes += 1
            if len(chunk) >= 5000:
                yield b"".join(chunk)
                chunk = []
        if chunk:
            yield b"".join(chunk)

    def _multi_proof(self, indices: Sequence[int], size: int) -> list[bytes]:
        ranges = tlog.multi_proof_ranges(indices, size)
        keys = sorted({key for start, end in ranges for key in tlog.perfect_cover(start, end)})
        tree = tlog.DictTree(self.log.nodes(keys))
        return [tlog.range_hash(tree, start, end) for start, end in ranges]

    def _earlier_checkpoints(self, tree: CachedTree, head: StoredCheckpoint, from_s: int) -> list[dict[str, Any]]:
        earlier = []
        for checkpoint in self.log.checkpoints_since(from_s - CHECKPOINTS_BEFORE_S):
            if checkpoint.size >= head.size:
                continue
            proof = tlog.consistency_proof(tree, checkpoint.size, head.size)
            earlier.append({"size": checkpoint.size, "signed_at_s": checkpoint.signed_at_s,
                            "note": self.service.with_cosignatures(checkpoint),
                            "consistency": [b64(h) for h in proof]})
        return earlier


def _alert_row(alert: AlertRecord) -> dict[str, Any]:
    return {"id": alert.id, "type": alert.type, "severity": alert.severity, "state": alert.state,
            "loan": alert.loan, "lot": alert.lot, "opened_at_s": alert.opened_at_s,
            "acknowledged_by": alert.acknowledged_by, "acknowledged_at_s": alert.acknowledged_at_s,
            "resolved_by": alert.resolved_by, "resolved_at_s": alert.resolved_at_s}


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
