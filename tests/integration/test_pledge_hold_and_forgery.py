"""Issue 12, findings 6 and 7 through the API: a loan repaid to 0 still holds its pledge
(the second pledge is a 409 and the holder hears of it), and forged messages beside genuine
ones are tampering that hides no theft."""
from __future__ import annotations

from book_helpers import as_, run_for, run_forged


def test_a_loan_repaid_to_zero_still_holds_its_pledge(book):
    context, client, clock = book
    run_for(context, clock, 2)
    repaid = client.post("/api/v1/loans/loan-acme-1/repayments", json={"amount": 1_000_000},
                         headers=as_("bank-north"))
    assert repaid.status_code == 201 and float(repaid.json()["outstanding"]) == 0
    refused = client.post("/api/v1/loans/loan-acme-2/pledges", json={"lot": "lot-sh-1"}, headers=as_("admin"))
    assert (refused.status_code, refused.json()) == (409, {"detail": "already pledged"})
    context.monitor.tick()
    [alert] = client.get("/api/v1/alerts", params={"type": "double_pledge_attempt"},
                         headers=as_("bank-north")).json()
    assert (alert["loan"], alert["lot"]) == ("loan-acme-1", "lot-sh-1")
    assert "lot-sh-1" not in context.registry.snapshot().loans["loan-acme-2"].lot_ids


def test_forged_messages_beside_genuine_ones_hide_no_theft(book):
    context, client, clock = book
    seq = run_for(context, clock, 3)
    run_forged(context, clock, 20, start_seq=seq, missing={"lot-sh-1": 4})
    alerts = client.get("/api/v1/alerts", headers=as_("admin")).json()
    assert sorted((a["type"], a["lot"]) for a in alerts) == [("tamper_detected", None),
                                                             ("unauthorized_removal", "lot-sh-1")]
