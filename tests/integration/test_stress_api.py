"""Portfolio stress tests through the API, on SQLite and PostgreSQL: the demo book, its
stored price history, staff and lenders."""
from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from decimal import Decimal

import pytest
from book_helpers import as_, run_for

from backend.bootstrap import stress_service
from backend.domain.observations import PriceTick
from backend.domain.stress import parse_shock
from backend.services.stress import MonteCarloRequest

OPENING = {"steel_coil": 4000.0, "copper_cathode": 68000.0, "frozen_shrimp": 52000.0}
DAY_S = 86_400
SEVERE = ["steel_coil=-45%", "copper_cathode=-45%", "frozen_shrimp=-45%"]
NORTH, SOUTH = {"loan-acme-1", "loan-river-1"}, {"loan-acme-2", "loan-delta-1"}


def _store_history(context, clock, days: int = 60, commodities=tuple(OPENING)) -> None:
    """Daily marks before the book's opening prices, walking back from them (so the opening
    price is where the history ends), stored as the price feed would have stored them."""
    rng = random.Random(3)
    opened_s = clock.now_s
    for commodity in commodities:
        price = OPENING[commodity]
        for day in range(1, days + 1):
            price *= math.exp(-rng.gauss(0, 0.02))
            context.prices.add(PriceTick(commodity, Decimal(f"{price:.2f}"), "CNY", "t", opened_s - day * DAY_S), "test")


def _stress(client, who: str, **body):
    return client.post("/api/v1/stress", json=body, headers=as_(who))


@pytest.fixture
def stressed(book):
    context, client, clock = book
    _store_history(context, clock)
    run_for(context, clock, 3)
    return context, client, clock


def test_a_shock_values_the_book_as_a_hand_computation(stressed):
    _, client, _ = stressed
    answer = _stress(client, "supervisor", shocks=["steel_coil=-40%"]).json()["shock"]
    acme = next(row for row in answer["loans"] if row["loan"] == "loan-acme-1")
    # lot-sh-1: 40 × 12.5 t = 500 t at 4000 × 0.6 = 2400 CNY/t, 10 % haircut: 1,080,000.
    assert Decimal(acme["value_before"]) == Decimal("1800000.00")
    assert Decimal(acme["value_after"]) == Decimal("1080000.00")
    assert acme["ltv_after"] == pytest.approx(1_000_000 / 1_080_000, abs=1e-6)
    assert (acme["status_before"], acme["status_after"]) == ("normal", "liquidation")
    assert Decimal(acme["cure_amount"]) == Decimal(1_000_000) - Decimal("0.60") * Decimal(1_080_000)
    call = next(c for c in answer["margin_calls"] if c["loan"] == "loan-acme-1")
    assert call["new"] and call["cure_amount"] == acme["cure_amount"]
    assert answer["by_status_after"]["liquidation"] >= 1 and answer["loans_total"] == 4
    # a lost warehouse: its lots are worth nothing, the loan is short by all it owes
    lost = _stress(client, "supervisor", warehouses_lost=["wh-ningbo"]).json()["shock"]
    delta = next(row for row in lost["loans"] if row["loan"] == "loan-delta-1")
    assert Decimal(delta["shortfall"]) == Decimal(1_100_000) and delta["ltv_after"] is None
    south = next(row for row in lost["shortfall_by_lender"] if row["lender"] == "bank-south")
    assert Decimal(south["shortfall"]) == Decimal(1_100_000)


def test_unshocked_values_are_the_monitors_own_collateral_values(stressed):
    context, client, clock = stressed
    run_for(context, clock, 20, start_seq=10, missing={"lot-sh-1": 8})   # 8 coils gone: valued lower
    loans = {loan["id"]: loan for loan in client.get("/api/v1/loans", headers=as_("admin")).json()}
    assert Decimal(loans["loan-acme-1"]["collateral_value"]) < Decimal("1800000.00")
    answer = _stress(client, "admin").json()["shock"]
    for row in answer["loans"]:
        assert Decimal(row["value_before"]) == Decimal(loans[row["loan"]]["collateral_value"]), row["loan"]
        assert row["status_before"] == loans[row["loan"]]["status"]


def test_a_lender_stresses_its_own_loans_and_never_sees_another_banks(stressed):
    _, client, _ = stressed
    monte_carlo = {"horizon_days": 20, "paths": 2000, "seed": 9}
    staff = _stress(client, "admin", shocks=SEVERE, monte_carlo=monte_carlo).json()
    north = _stress(client, "bank-north", shocks=SEVERE, monte_carlo=monte_carlo).json()
    for part in ("shock", "monte_carlo"):
        assert {row["loan"] for row in north[part]["loans"]} == NORTH
        assert {row["lender"] for row in north[part]["shortfall_by_lender"]} == {"bank-north"}
        assert {row["loan"] for row in staff[part]["loans"]} == NORTH | SOUTH
    assert {c["loan"] for c in north["shock"]["margin_calls"]} <= NORTH
    assert sum(north["shock"]["by_status_after"].values()) == 2
    # A loan's numbers are its own: the same in the lender's run as in the whole book's.
    staff_rows = {row["loan"]: row for row in staff["monte_carlo"]["loans"]}
    for row in north["monte_carlo"]["loans"]:
        assert row == staff_rows[row["loan"]]
    # Aggregates hold only its loans: expected shortfall adds up over loans (linearity), so
    # the lender's per-commodity totals are its loans' sum, short of the book's by the others'.
    def total(answer, key):
        return sum(float(row["expected"]) for row in answer["monte_carlo"][key])

    def loans_sum(answer, loans):
        return sum(float(row["expected_shortfall"]) for row in answer["monte_carlo"]["loans"] if row["loan"] in loans)
    assert loans_sum(staff, SOUTH) > 0
    assert total(north, "shortfall_by_commodity") == pytest.approx(loans_sum(north, NORTH), abs=0.05)
    assert total(staff, "shortfall_by_commodity") == pytest.approx(loans_sum(staff, NORTH | SOUTH), abs=0.05)
    assert total(north, "shortfall_by_lender") < total(staff, "shortfall_by_lender")
    south = _stress(client, "bank-south", monte_carlo=monte_carlo).json()["monte_carlo"]
    assert "copper_cathode" not in {c["commodity"] for c in south["model"]["commodities"]}


def test_monte_carlo_is_reproducible_from_the_seed_and_estimated_from_the_stored_history(stressed):
    _, client, _ = stressed
    body = {"monte_carlo": {"horizon_days": 30, "paths": 1000, "seed": 42}}
    first, again = (_stress(client, "supervisor", **body).json()["monte_carlo"] for _ in range(2))
    assert first == again
    other = _stress(client, "supervisor", monte_carlo={**body["monte_carlo"], "seed": 43}).json()["monte_carlo"]
    assert other["loans"] != first["loans"]
    volatility = {c["commodity"]: c for c in first["model"]["commodities"]}
    assert all(c["returns"] >= 59 and 0.01 < c["volatility_daily"] < 0.04 for c in volatility.values())
    loan = first["loans"][0]
    assert len(loan["ltv_percentiles"]) == len(first["percentiles"]) == 7
    assert loan["ltv_percentiles"] == sorted(loan["ltv_percentiles"])
    assert 0 <= loan["p_default"] <= loan["p_margin_call"] <= 1


def test_a_wild_monte_carlo_answers_with_its_ruined_paths_not_a_server_error(book):
    """94 % daily volatility for 100 days (found by the OpenAPI fuzz: an LTV of 1e30 overflowed
    the Decimal it was rounded in, and the API answered 500)."""
    context, client, clock = book
    run_for(context, clock, 1)
    answer = _stress(client, "supervisor", monte_carlo={"paths": 200, "horizon_days": 100, "seed": 1,
                                                         "fallback_volatility": 0.94})
    assert answer.status_code == 200, answer.text
    loans = answer.json()["monte_carlo"]["loans"]
    assert loans and all(p is None or p >= 0 for loan in loans for p in loan["ltv_percentiles"])
    assert max(p or 0 for loan in loans for p in loan["ltv_percentiles"]) > 10  # ruined paths are in it


def test_a_commodity_without_history_is_named_unless_a_fallback_is_given(book):
    context, client, clock = book
    _store_history(context, clock, commodities=("steel_coil", "copper_cathode"))
    run_for(context, clock, 1)
    refused = _stress(client, "supervisor", monte_carlo={"paths": 100})
    assert refused.status_code == 400 and "no price history for frozen_shrimp" in refused.json()["detail"]
    # bank-north holds no shrimp: its run needs no shrimp history
    assert _stress(client, "bank-north", monte_carlo={"paths": 100}).status_code == 200
    fallback = _stress(client, "supervisor", monte_carlo={"paths": 100, "fallback_volatility": 0.03}).json()
    shrimp = next(c for c in fallback["monte_carlo"]["model"]["commodities"] if c["commodity"] == "frozen_shrimp")
    assert shrimp["fallback"] and shrimp["volatility_daily"] == 0.03


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"shocks": ["steel_coil=-20"]}, 400, "NAME=±N%"), ({"shocks": ["gold=-5%"]}, 400, "no commodity 'gold'"),
    ({"shocks": ["USD/CNY=+5%"]}, 400, "no FX rate USD/CNY"), ({"warehouses_lost": ["wh-nowhere"]}, 400, "wh-nowhere"),
    ({"monte_carlo": {"paths": 1_000_000}}, 422, None),
    ({"monte_carlo": {"paths": 100_000, "horizon_days": 365}}, 400, "price points")])
def test_bad_requests_are_refused_with_the_reason(stressed, body, status, detail):
    _, client, _ = stressed
    answer = _stress(client, "supervisor", **body)
    assert answer.status_code == status
    if detail:
        assert detail in answer.json()["detail"]


def test_only_staff_and_lenders_may_run_stress_tests(stressed):
    _, client, _ = stressed
    assert client.post("/api/v1/stress", json={}).status_code == 401
    assert _stress(client, "bank-south").status_code == 200


def _pledgewatch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], capture_output=True, text=True, timeout=120)


def test_the_command_line_gives_the_apis_numbers_from_the_database(stressed, tmp_path):
    context, client, _ = stressed
    config = tmp_path / "stress.yaml"
    config.write_text(f"data_dir: {tmp_path / 'cli-data'}\ndatabase_url: {context.settings.resolved_database_url()}\n")
    args = ["stress", "--config", str(config), "--lender", "bank-north", "--shock", "steel_coil=-40%",
            "--monte-carlo", "--paths", "500", "--seed", "4", "--fallback-volatility", "0.02"]
    done = _pledgewatch(*args, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    api = _stress(client, "bank-north", shocks=["steel_coil=-40%"]).json()
    # The command line reads the pledged quantities (no monitor in its process): the same here.
    assert answer["shock"] == api["shock"]
    # It runs on the real clock (the fixture's is in 2027): compare with the service on it.
    service = stress_service(context.settings)
    expected = service.monte_carlo(MonteCarloRequest(shock=parse_shock(["steel_coil=-40%"]), paths=500, seed=4,
                                                     fallback_volatility=0.02), lender="bank-north")
    assert answer["monte_carlo"] == expected and {row["loan"] for row in expected["loans"]} == NORTH
    text = _pledgewatch(*args)
    assert text.returncode == 0 and "loan-acme-1" in text.stdout and "loan-acme-2" not in text.stdout
    refused = _pledgewatch("stress", "--config", str(config), "--shock", "gold=-5%")
    assert refused.returncode == 2 and refused.stderr.strip() == "pledgewatch: no commodity 'gold'"
