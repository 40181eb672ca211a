"""Issue 12, finding 11: a bank sees the pre-haircut market value of its collateral."""
from __future__ import annotations

import pytest
from book_helpers import as_, run_for


def test_a_bank_sees_the_market_value_beside_the_lending_value(book):
    context, client, clock = book
    run_for(context, clock, 3)
    loan = client.get("/api/v1/loans/loan-acme-1", headers=as_("bank-north")).json()
    assert float(loan["market_value"]) == pytest.approx(500 * 4000)          # 500 t × 4000
    assert float(loan["collateral_value"]) == pytest.approx(500 * 4000 * 0.9)  # 10 % haircut


def test_the_books_unverified_schedules_are_kept_in_the_registry(tmp_path, database_url):
    from book_helpers import BOOK, Clock, api_keys

    from backend.bootstrap import build_context
    from backend.domain.registry import UnverifiedSchedule
    from backend.settings import BackendSettings
    text = BOOK.read_text().replace(
        "{id: frozen_shrimp, unit: t,",
        "{id: frozen_shrimp, unit: t, unverified: {grace: 30m, zero_after: 6h},")
    text = text.replace("{id: loan-acme-1, lender: bank-north,",
                        "{id: loan-acme-1, unverified: {grace: 2h, zero_after: 2d}, lender: bank-north,")
    assert "unverified" in text.split("loans:")[0] and "loan-acme-1, unverified" in text
    book = tmp_path / "book.yaml"
    book.write_text(text)
    settings = BackendSettings(data_dir=tmp_path / "data", database_url=database_url, book=book,
                               roles=["api", "monitor"], api_keys=api_keys())
    context = build_context(settings, Clock())
    try:
        registry = context.registry.snapshot()
        assert registry.commodities["frozen_shrimp"].unverified == UnverifiedSchedule(1800, 21_600)
        assert registry.loans["loan-acme-1"].unverified == UnverifiedSchedule(7200, 172_800)
        assert registry.loans["loan-acme-2"].unverified is None
    finally:
        context.close()
