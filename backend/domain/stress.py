"""Portfolio stress tests, deterministic part: the book at shocked prices.

A shock moves commodity prices and FX rates by a relative amount (`steel_coil=-20%`,
`USD/CNY=+5%`) and can write off whole warehouses (their lots are worth 0). Every loan is
then valued exactly as the monitor values it (`valuation.unit_price`, `lot_value`, the
quality factor and the unverified lending share; the sum rounded to cents) and judged by
the LTV state machine (`ltv.next_standing`, from the loan's current standing, at the same
instant: hysteresis applies, no cure period runs out). Shortfall is
max(0, outstanding − lending value after the shock). The Monte Carlo (`stress_paths.py`)
starts from the same valuation, split by commodity (`lending_values`).

Pure: the book, the market and the standings come in as values; nothing is stored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Mapping

from backend.domain import ltv, valuation
from backend.domain.errors import DomainError
from backend.domain.observations import PriceTick
from backend.domain.registry import Commodity, Loan, Registry

_CENT = Decimal("0.01")
_TERM = re.compile(r"^\s*([^=\s]+)\s*=\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$")
STATUSES: tuple[ltv.LoanStatus, ...] = ("normal", "warning", "margin_call", "liquidation", "default")
IN_CALL = ("margin_call", "liquidation", "default")


class StressError(DomainError):
    """A stress request that cannot be run (a bad shock, an unknown commodity, no history);
    the message names what is wrong."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Holding:
    """One pledged lot of a loan as the monitor values it."""
    lot_id: str
    commodity_id: str
    warehouse_id: str
    quantity: Decimal                          # valued quantity, in the commodity's unit
    quality: Decimal = Decimal(1)              # share of value left after temperature exposure
    share: Decimal | None = None               # unverified lending share; None: verified


@dataclass(frozen=True, kw_only=True)
class StressBook:
    """The loans in scope (a lender's own, or the whole book) with what values them now."""
    loans: tuple[Loan, ...]                    # active loans only
    holdings: Mapping[str, tuple[Holding, ...]]    # loan id -> its lots
    commodities: Mapping[str, Commodity]
    warehouses: frozenset[str]
    prices: Mapping[str, PriceTick]            # the accepted price of each priced commodity
    fx_rates: Mapping[tuple[str, str], Decimal]
    standings: Mapping[str, ltv.LoanStanding] = field(default_factory=dict)


@dataclass(frozen=True)
class Shock:
    prices: Mapping[str, Decimal] = field(default_factory=dict)    # commodity -> relative move
    fx: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)   # (base, quote) -> move
    warehouses_lost: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class LoanAfterShock:
    loan_id: str
    lender_id: str
    currency: str
    outstanding: Decimal
    value_before: Decimal | None               # None: no lot of the loan is priced
    value_after: Decimal | None
    ltv_before: Decimal | None
    ltv_after: Decimal | None
    status_before: ltv.LoanStatus
    status_after: ltv.LoanStatus
    cure_amount: Decimal | None                # in call after the shock: to the target LTV
    shortfall: Decimal                         # max(0, outstanding − value after)

    @property
    def new_call(self) -> bool:
        return self.status_after in IN_CALL and self.status_before not in IN_CALL


@dataclass(frozen=True)
class ShockResult:
    shock: Shock
    loans: tuple[LoanAfterShock, ...]

    def by_status(self, after: bool = True) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for loan in self.loans:
            counts[loan.status_after if after else loan.status_before] += 1
        return counts

    def margin_calls(self) -> tuple[LoanAfterShock, ...]:
        """Loans in call after the shock, the largest cure first."""
        calls = [loan for loan in self.loans if loan.status_after in IN_CALL]
        return tuple(sorted(calls, key=lambda loan: (-(loan.cure_amount or 0), loan.loan_id)))

    def shortfall_by_lender(self) -> dict[tuple[str, str], Decimal]:
        """(lender, currency) -> the sum of its loans' shortfalls after the shock."""
        totals: dict[tuple[str, str], Decimal] = {}
        for loan in self.loans:
            key = (loan.lender_id, loan.currency)
            totals[key] = totals.get(key, Decimal(0)) + loan.shortfall
        return dict(sorted(totals.items()))


def parse_move(text: str) -> Decimal:
    """`-20%` -> Decimal('-0.20'); a move below −100 % is refused."""
    match = re.fullmatch(r"\s*([+-]?\d+(?:\.\d+)?)\s*%\s*", text)
    if match is None:
        raise StressError(f"a move is written as a percentage, e.g. -20% or +5%; got {text!r}")
    move = Decimal(match.group(1)) / 100
    if move < -1:
        raise StressError(f"a price cannot fall more than 100 %: {text!r}")
    return move


def parse_shock(terms: Iterable[str], warehouses_lost: Iterable[str] = ()) -> Shock:
    """Terms `COMMODITY=±N%` and `BASE/QUOTE=±N%` (an FX rate: 1 BASE = rate QUOTE)."""
    prices: dict[str, Decimal] = {}
    fx: dict[tuple[str, str], Decimal] = {}
    for term in terms:
        match = _TERM.match(term)
        if match is None:
            raise StressError(f"a shock is NAME=±N%, e.g. steel_coil=-20% or USD/CNY=+5%; got {term!r}")
        name, move = match.group(1), parse_move(match.group(2) + "%")
        if "/" in name:
            base, _, quote = name.partition("/")
            if not (len(base) == len(quote) == 3 and (base + quote).isalpha() and (base + quote).isupper()):
                raise StressError(f"an FX pair is BASE/QUOTE in ISO codes, e.g. USD/CNY; got {name!r}")
            fx[(base, quote)] = move
        else:
            prices[name] = move
    return Shock(prices, fx, frozenset(warehouses_lost))


def check_shock(book: StressBook, shock: Shock) -> None:
    """StressError naming what the shock refers to that the market or the book lacks."""
    for commodity_id in shock.prices:
        if commodity_id not in book.commodities:
            raise StressError(f"no commodity {commodity_id!r}")
        if commodity_id not in book.prices:
            raise StressError(f"no price for {commodity_id!r} to shock")
    for base, quote in shock.fx:
        if (base, quote) not in book.fx_rates and (quote, base) not in book.fx_rates:
            raise StressError(f"no FX rate {base}/{quote} to shock")
    unknown = sorted(shock.warehouses_lost - book.warehouses)
    if unknown:
        raise StressError(f"no warehouse {unknown[0]!r}")


def shocked_market(book: StressBook, shock: Shock
                   ) -> tuple[dict[str, PriceTick], dict[tuple[str, str], Decimal]]:
    """The prices and FX rates after the shock. A move of an FX pair kept the other way
    round (QUOTE/BASE) divides that rate: the same move of BASE against QUOTE."""
    prices = dict(book.prices)
    for commodity_id, move in shock.prices.items():
        tick = prices[commodity_id]
        prices[commodity_id] = PriceTick(tick.commodity_id, tick.price * (1 + move), tick.currency,
                                         tick.per_unit, tick.at_s)
    rates = dict(book.fx_rates)
    for (base, quote), move in shock.fx.items():
        if (base, quote) in rates:
            rates[(base, quote)] = rates[(base, quote)] * (1 + move)
        else:
            if move <= -1:
                raise StressError(f"{base}/{quote} cannot fall 100 %: the rate is kept as {quote}/{base}")
            rates[(quote, base)] = rates[(quote, base)] / (1 + move)
    return prices, rates


def lending_values(book: StressBook, loan: Loan, prices: Mapping[str, PriceTick],
                   fx_rates: Mapping[tuple[str, str], Decimal], *, lost: frozenset[str] = frozenset(),
                   cache: dict[tuple[str, str], Decimal] | None = None) -> dict[str, Decimal] | None:
    """The loan's lending value per commodity, unrounded (the monitor's valuation lot by lot);
    None when none of its lots is priced (the monitor has not valued it). An unpriced lot
    and a lot in a lost warehouse are worth 0."""
    cache = {} if cache is None else cache
    values: dict[str, Decimal] = {}
    priced = False
    for holding in book.holdings.get(loan.id, ()):
        commodity_id = holding.commodity_id
        values.setdefault(commodity_id, Decimal(0))
        tick = prices.get(commodity_id)
        if tick is None:
            continue
        priced = True
        if holding.warehouse_id in lost:
            continue
        key = (commodity_id, loan.currency)
        if key not in cache:
            try:
                cache[key] = valuation.unit_price(tick, book.commodities[commodity_id], loan.currency, fx_rates)
            except DomainError as exc:
                raise StressError(f"loan {loan.id}: {exc}") from exc
        value = valuation.lot_value(holding.quantity, cache[key], loan.haircut, holding.quality)
        values[commodity_id] += value if holding.share is None else value * holding.share
    return values if priced else None


def collateral_value(values: Mapping[str, Decimal] | None) -> Decimal | None:
    """The loan's collateral value as the monitor states it: the sum, to the cent."""
    return None if values is None else sum(values.values(), Decimal(0)).quantize(_CENT)


def _judge(loan: Loan, book: StressBook, value: Decimal | None, now_s: float,
           hysteresis: Decimal) -> tuple[Decimal | None, ltv.LoanStatus]:
    previous = book.standings.get(loan.id) or ltv.LoanStanding(since_s=now_s)
    ratio = None if value is None else valuation.loan_to_value(loan.outstanding, value)
    standing, _ = ltv.next_standing(previous, ratio, loan.thresholds, loan.cure_period_s, hysteresis,
                                    now_s, loan.target_ltv)
    return ratio, standing.status


def run_shock(book: StressBook, shock: Shock, *, now_s: float, hysteresis: Decimal) -> ShockResult:
    """Every loan of the book before and after the shock, at the instant `now_s`."""
    check_shock(book, shock)
    prices, rates = shocked_market(book, shock)
    before_cache: dict[tuple[str, str], Decimal] = {}
    after_cache: dict[tuple[str, str], Decimal] = {}
    rows = []
    for loan in book.loans:
        value_before = collateral_value(lending_values(book, loan, book.prices, book.fx_rates,
                                                       cache=before_cache))
        value_after = collateral_value(lending_values(book, loan, prices, rates, lost=shock.warehouses_lost,
                                                      cache=after_cache))
        ltv_before, status_before = _judge(loan, book, value_before, now_s, hysteresis)
        ltv_after, status_after = _judge(loan, book, value_after, now_s, hysteresis)
        cure = (ltv.cure_amount(loan.outstanding, loan.target_ltv, value_after)
                if status_after in IN_CALL and value_after is not None else None)
        shortfall = Decimal(0) if value_after is None else max(Decimal(0), loan.outstanding - value_after)
        rows.append(LoanAfterShock(
            loan_id=loan.id, lender_id=loan.lender_id, currency=loan.currency, outstanding=loan.outstanding,
            value_before=value_before, value_after=value_after, ltv_before=ltv_before, ltv_after=ltv_after,
            status_before=status_before, status_after=status_after, cure_amount=cure, shortfall=shortfall))
    return ShockResult(shock, tuple(rows))


def stress_book(registry: Registry, *, lender: str | None, prices: Mapping[str, PriceTick],
                fx_rates: Mapping[tuple[str, str], Decimal],
                quantities: Mapping[str, Decimal] | None = None,
                quality: Mapping[str, Decimal] | None = None,
                shares: Mapping[str, Decimal] | None = None,
                standings: Mapping[str, ltv.LoanStanding] | None = None) -> StressBook:
    """The active loans of `lender` (None: every lender) with their lots. `quantities` are
    the monitor's valued quantities (default: the pledged ones), `quality` its quality
    factors (default 1), `shares` the unverified lending shares (default: verified)."""
    valued, quality, shares = quantities or {}, quality or {}, shares or {}
    lots, one = registry.lots, Decimal(1)
    loans = tuple(loan for loan in registry.loans.values()
                  if loan.active and (lender is None or loan.lender_id == lender))
    holdings = {}
    for loan in loans:
        rows = []
        for lot_id in loan.lot_ids:
            lot, quantity = lots[lot_id], valued.get(lot_id)
            rows.append(Holding(lot_id=lot_id, commodity_id=lot.commodity_id, warehouse_id=lot.warehouse_id,
                                quantity=registry.pledged_quantity[lot_id] if quantity is None else quantity,
                                quality=quality.get(lot_id, one), share=shares.get(lot_id)))
        holdings[loan.id] = tuple(rows)
    in_scope = {loan.id for loan in loans}
    return StressBook(loans=loans, holdings=holdings, commodities=registry.commodities,
                      warehouses=frozenset(registry.warehouses), prices=dict(prices), fx_rates=dict(fx_rates),
                      standings={k: v for k, v in (standings or {}).items() if k in in_scope})
