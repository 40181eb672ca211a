"""Issue 12, finding 11: a bank sees the pre-haircut market value of its collateral."""
from __future__ import annotations

import pytest

from test_book_api import as_, book, run_for  # noqa: F401  (fixture)


def test_a_bank_sees_the_market_value_beside_the_lending_value(book):
    context, client, clock = book
    run_for(context, clock, 3)
    loan = client.get("/api/v1/loans/loan-acme-1", headers=as_("bank-north")).json()
    assert float(loan["market_value"]) == pytest.approx(500 * 4000)          # 500 t × 4000
    assert float(loan["collateral_value"]) == pytest.approx(500 * 4000 * 0.9)  # 10 % haircut
