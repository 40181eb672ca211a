"""LoanStandings on an in-memory store: the read side of what the monitor stored."""
from __future__ import annotations

from decimal import Decimal

from fakes_monitoring import FakeStandings

from backend.ports.monitor import HistoryPoint, StandingRecord
from backend.services.standings import LoanStandings


def test_a_loan_the_monitor_has_not_judged_has_no_standing_nor_value():
    store = FakeStandings()
    store.save([StandingRecord("loan-a", "normal", Decimal("0.5"), Decimal(80_000), Decimal(48_000), None, None,
                               False, 10.0)])
    standings = LoanStandings(store)
    assert standings.collateral_value("loan-a") == Decimal(80_000)
    assert standings.of("loan-b") is None and standings.collateral_value("loan-b") is None
    assert set(standings.all()) == {"loan-a"}


def test_history_is_the_loans_points_in_the_window_oldest_first():
    store = FakeStandings()
    store.append_history([HistoryPoint(loan, at_s, "normal", None, None, None, None)
                          for loan, at_s in (("loan-a", 30.0), ("loan-a", 10.0), ("loan-b", 20.0), ("loan-a", 50.0))])
    points = LoanStandings(store).history("loan-a", 10.0, 50.0, 10)
    assert [p.at_s for p in points] == [10.0, 30.0]
