"""The simulated market's jumps: every poll of a market that always jumps gives a quote one
jump away (the jump path once raised decimal.InvalidOperation on numpy's float repr, and the
demo's and cluster's feeds logged "price feed round failed" about once in 500 polls)."""
from __future__ import annotations

from decimal import Decimal

from backend.adapters.price_sources.simulated import SimulatedSource


def test_a_market_that_always_jumps_quotes_a_jump_away_at_every_poll():
    source = SimulatedSource("sim", "steel_coil", "CNY", "t", latest_price=lambda _: None,
                             start_price=Decimal("1000.00"), volatility_per_sqrt_day=0.0,
                             jump_probability=1.0, jump_fraction=0.1, seed=7)
    prices = [quote.price for now_s in range(0, 50, 5) for quote in source.poll(float(now_s))]
    assert len(prices) == 10 and set(prices) <= {Decimal("900.00"), Decimal("1100.00")}
