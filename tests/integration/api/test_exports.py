"""CSV exports: what the JSON routes say, for spreadsheets; a lender gets only its own."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from book_helpers import as_, run_for


def rows_of(answer) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_alerts_loans_and_a_lots_readings_as_csv(book):
    context, client, clock = book
    seq = run_for(context, clock, 3)
    run_for(context, clock, 15, start_seq=seq, missing={"lot-sh-1": 4})   # a theft under bank-north
    north_alerts = rows_of(client.get("/api/v1/exports/alerts.csv", headers=as_("bank-north")))
    json_alerts = client.get("/api/v1/alerts", params={"limit": 1000}, headers=as_("bank-north")).json()
    assert [row["id"] for row in north_alerts] == [alert["id"] for alert in json_alerts] != []
    assert {row["lender"] for row in north_alerts} == {"bank-north"}
    removal = next(row for row in north_alerts if row["type"] == "unauthorized_removal")
    assert '"missing_items":4' in removal["details"]
    assert rows_of(client.get("/api/v1/exports/alerts.csv", params={"type": "margin_call"},
                              headers=as_("bank-north"))) == []

    loans = {row["id"]: row for row in rows_of(client.get("/api/v1/exports/loans.csv", headers=as_("bank-south")))}
    assert set(loans) == {"loan-acme-2", "loan-delta-1"}
    api = client.get("/api/v1/loans/loan-acme-2", headers=as_("bank-south")).json()
    assert Decimal(loans["loan-acme-2"]["outstanding"]) == Decimal(api["outstanding"])
    assert Decimal(loans["loan-acme-2"]["ltv"]) == Decimal(api["ltv"])

    readings = rows_of(client.get("/api/v1/exports/lots/lot-sh-1/readings.csv", headers=as_("bank-north")))
    assert {row["sensor"] for row in readings} == {"lot-sh-1-scale", "lot-sh-1-rfid"}
    assert len(readings) == 2 * 18 and [row["tags"] for row in readings if row["kind"] == "rfid"][-1] == "36"
    assert client.get("/api/v1/exports/lots/lot-sh-1/readings.csv", headers=as_("bank-south")).status_code == 404
