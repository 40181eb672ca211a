"""Borrowing-base certificates: a loan's eligible collateral lot by lot, its market and
lending value, drawing power, outstanding amount and open alerts at a moment, signed with
the backend's document key (canonical JSON, Ed25519; amounts as Decimal strings, no floats).

Values are the monitor's last valuation (`valued_at_s`); the outstanding amount, LTV and
drawing power are those of the moment the certificate is issued (`at_s`). Per-lot lines
need the monitor's state: a process whose monitor runs elsewhere issues the loan's totals
with `lots_valued: false`.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from backend.domain import borrowing_base, valuation
from backend.domain import registry as reg
from backend.domain.money import cents
from backend.domain.monitor import MonitorState
from backend.ports.alerts import AlertStore
from backend.ports.documents import DocumentSigner, SignedDocument
from backend.ports.monitor import StandingRecord
from backend.services.registry import NotFound, RegistryService

RATIO = Decimal("0.000001")


class CertificateService:
    def __init__(self, *, registry: RegistryService, standing: Callable[[str], StandingRecord | None],
                 alerts: AlertStore, signer: DocumentSigner, monitor_state: Callable[[], MonitorState | None],
                 clock: Callable[[], float]) -> None:
        self.registry, self.standing, self.alerts, self.signer = registry, standing, alerts, signer
        self.monitor_state, self.clock = monitor_state, clock

    def certificate(self, loan_id: str) -> SignedDocument:
        return self.signer.sign(self.document(loan_id))

    def document(self, loan_id: str) -> dict[str, Any]:
        registry = self.registry.snapshot()
        loan = registry.loans.get(loan_id)
        if loan is None:
            raise NotFound(f"no loan {loan_id!r}")
        now_s, standing, state = self.clock(), self.standing(loan_id), self.monitor_state()
        value = standing.collateral_value if standing else None
        lots = borrowing_base.lot_values(state, registry, loan_id, now_s) if state is not None else None
        return {
            "type": "borrowing_base_certificate", "version": 1, "loan": loan.id, "lender": loan.lender_id,
            "borrower": loan.borrower_id, "currency": loan.currency, "at_s": int(now_s),
            "valued_at_s": int(standing.updated_at_s) if standing else None,
            "issuer_key_id": self.signer.key_id,
            "status": standing.status if standing else None, "closed": loan.closed_at_s is not None,
            "haircut": loan.haircut.normalize(), "target_ltv": loan.target_ltv.normalize(),
            "outstanding": cents(loan.outstanding),
            "market_value": cents(standing.market_value) if standing and standing.market_value is not None else None,
            "lending_value": None if value is None else cents(value),
            "eligible_value": None if lots is None else sum((x.lending_value for x in lots if x.eligible), Decimal(0)),
            "drawing_power": None if value is None else cents(valuation.drawing_power(
                loan.target_ltv, value, loan.outstanding)),
            "ltv": None if value is None or value <= 0 else (loan.outstanding / value).quantize(RATIO),
            "lots_valued": lots is not None,
            "lots": [_lot(registry, line) for line in lots] if lots is not None
            else [{"lot": lot_id} for lot_id in loan.lot_ids],
            "open_alerts": self._open_alerts(loan),
        }

    def _open_alerts(self, loan: reg.Loan) -> list[dict[str, Any]]:
        mine = [a for a in self.alerts.active() if a.loan == loan.id or (a.lot is not None and a.lot in loan.lot_ids)]
        return [{"id": a.id, "type": a.type, "severity": a.severity, "state": a.state, "lot": a.lot,
                 "opened_at_s": int(a.opened_at_s)} for a in sorted(mine, key=lambda a: (a.opened_at_s, a.id))]


def _lot(registry: reg.Registry, line: borrowing_base.LotValue) -> dict[str, Any]:
    return {"lot": line.lot_id, "commodity": line.commodity_id, "unit": registry.commodities[line.commodity_id].unit,
            "warehouse": registry.lots[line.lot_id].warehouse_id,
            "quantity": None if line.quantity is None else line.quantity.normalize(),
            "unit_price": None if line.unit_price is None else cents(line.unit_price),
            "market_value": line.market_value, "lending_value": line.lending_value,
            "eligible": line.eligible, "reason": line.reason}
