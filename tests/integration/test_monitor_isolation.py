"""Issue 12: the backend survives an unpriced lot, a malformed book entry and a poisoned
reading, and every other loan stays watched; an unverified lot's schedule survives a
restart (through the API, on a real database)."""
from __future__ import annotations

from decimal import Decimal

from book_helpers import DEMO_LOTS as DEMO  # noqa: F401  (fixture)
from book_helpers import as_, run_for

from backend.ports.ingest import AcceptedMessage
from edge import protocol

ZINC = [{"epc": f"aa{n:022x}", "quantity": 1, "weight_kg": 1000} for n in range(5)]
SACKS = [{"epc": f"bb{n:022x}", "quantity": 1, "weight_kg": 1000} for n in range(5)]


def _add_lot(client, lot_id: str, warehouse: str, commodity: str, items: list[dict]) -> None:
    body = {"id": lot_id, "warehouse": warehouse, "commodity": commodity,
            "scale": f"{lot_id}-scale", "reader": f"{lot_id}-rfid", "items": items}
    assert client.post("/api/v1/lots", json=body, headers=as_("supervisor")).status_code == 201


def _crash_steel(client, context, clock, seq: int) -> int:
    """Steel at 2600 (confirmed past the outlier guard): loan-acme-1 in margin call."""
    for _ in range(4):
        assert client.post("/api/v1/prices", json={"commodity": "steel_coil", "price": 2600,
                                                   "currency": "CNY", "per": "t"},
                           headers=as_("admin")).status_code == 201
        seq = run_for(context, clock, 1, start_seq=seq)
    return seq


def _poison(context, clock, seq: int) -> None:
    now_ms = int(clock() * 1000)
    bad = protocol.Reading("lot-sh-2-scale", "weight", now_ms, {"weight_kg": "NaN"})
    context.readings.append([AcceptedMessage(protocol.Envelope("gw-shanghai", 1, 10_000 + seq, now_ms,
                                                               (bad,)), now_ms, now_ms)])


def test_an_unpriced_top_up_a_malformed_entry_and_a_poisoned_reading_stop_no_other_loan(book):
    context, client, clock = book
    staff = as_("supervisor")
    for path, body in (("/commodities", {"id": "zinc_ingot", "unit": "t"}),
                       ("/commodities", {"id": "rice", "unit": "t"}),
                       ("/lenders", {"id": "bank-east"}), ("/borrowers", {"id": "rice-co"}),
                       ("/warehouses", {"id": "wh-tianjin", "gateway": "gw-tianjin"})):
        assert client.post(f"/api/v1{path}", json=body, headers=staff).status_code == 201, path
    _add_lot(client, "lot-tj-1", "wh-tianjin", "zinc_ingot", ZINC)
    _add_lot(client, "lot-tj-2", "wh-tianjin", "rice", SACKS)
    # Malformed: a loan (booked after its goods were priced) in a currency no FX rate reaches.
    loan = {"id": "loan-rice-1", "lender": "bank-east", "borrower": "rice-co", "outstanding": 5000,
            "currency": "CHF", "thresholds": {"warning": 0.7, "margin_call": 0.8, "liquidation": 0.9},
            "target_ltv": 0.6, "lots": ["lot-tj-2"]}
    assert client.post("/api/v1/prices", json={"commodity": "rice", "price": 300, "currency": "CNY",
                                               "per": "t"}, headers=as_("admin")).status_code == 201
    assert client.post("/api/v1/loans", json=loan, headers=staff).status_code == 201
    seq = _crash_steel(client, context, clock, run_for(context, clock, 2))
    assert client.get("/api/v1/loans/loan-acme-1", headers=staff).json()["status"] == "margin_call"
    assert client.post("/api/v1/loans/loan-acme-1/pledges", json={"lot": "lot-tj-1"},
                       headers=as_("admin")).status_code == 201   # a top-up nobody can price (an admin's: at once)
    for minute in range(20):
        _poison(context, clock, seq)
        seq = run_for(context, clock, 1, start_seq=seq, missing={"lot-qd-1": 6})
    alerts = client.get("/api/v1/alerts", headers=as_("admin")).json()
    kinds = {(a["type"], a["loan"]) for a in alerts}
    assert ("unauthorized_removal", "loan-river-1") in kinds       # another bank's theft, seen
    assert ("monitoring_blind", "loan-rice-1") in kinds            # the malformed loan, on itself
    zinc = [a for a in alerts if a["type"] == "price_stale"]
    assert [a["details"]["reason"] for a in zinc] == ["no price"]
    acme = client.get("/api/v1/loans/loan-acme-1", headers=staff).json()
    assert acme["status"] == "margin_call" and float(acme["collateral_value"]) == 500 * 2600 * 0.9
    sample = context.metrics.registry.get_sample_value
    assert sample("pw_monitor_errors_total", {"stage": "reading"}) == 20
    assert sample("pw_monitor_errors_total", {"stage": "loan"}) >= 20


def test_a_restart_carries_on_an_unverified_lots_schedule(book):
    from backend.bootstrap import build_context
    context, client, clock = book
    lots = dict(DEMO)
    seq = run_for(context, clock, 3, lots=lots)
    del lots["lot-sh-1"]                       # its devices fall silent, the gateway reports on
    seq = run_for(context, clock, 15, start_seq=seq, lots=lots)
    [gap] = client.get("/api/v1/alerts", params={"type": "collateral_unverified"},
                       headers=as_("admin")).json()
    context.close()
    again = build_context(context.settings, clock)
    try:
        assert again.monitor.state.unverified["lot-sh-1"].since_s == gap["details"]["since_s"]
        clock.now_s += 3 * 3600                # three hours later: 2 h past the grace
        run_for(again, clock, 1, start_seq=seq, lots=lots)
        view = again.monitor.state.loan_views["loan-acme-1"]
        assert view.unverified_lots == ("lot-sh-1",)
        assert view.collateral_value < 500 * 4000 * Decimal("0.9")
    finally:
        again.close()
