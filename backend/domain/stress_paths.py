"""Portfolio stress tests, Monte Carlo part: commodity price paths and what they do to loans.

Model. Each commodity's price follows a geometric Brownian motion with a daily volatility
σ and a daily drift μ (0 by default: tomorrow's expected price is today's), correlated
across commodities:

    log S(t + Δ) − log S(t) = (μ − σ²/2) Δ + σ √Δ (L z),   z ~ N(0, I),  L Lᵀ = correlation

σ and the correlation are EWMA (RiskMetrics) estimates from daily log returns, the most
recent weighing most: weight λ^k on the return k days before the last, normalised by the
weights present, zero mean. FX rates are held where they are.

Loans. A loan's lending value is linear in the commodity prices: V_l(t) = Σ_c w_lc R_c(t),
with w_lc its lending value in commodity c now and R_c(t) = S_c(t) / S_c(0). So paths are
simulated per commodity, never per loan. A loan on one commodity (the usual case) is
judged from that commodity's path statistics: its running minimum sorted once answers
"did LTV reach θ at any step" for every loan by binary search. Loans on several
commodities are judged from bounds on each path's lowest value built from the commodities'
path statistics, and valued step by step only on the (loan, path) pairs the bounds leave
open (_several_commodities).

Definitions (per loan, over the N paths, each with steps 0..T):
- breach of a threshold θ: LTV ≥ θ at some step, step 0 included (path-wise);
- probability of margin call / of default: the share of paths that breach the margin-call /
  the liquidation threshold;
- shortfall on a path: max(0, outstanding − lending value) at the first step that breaches
  the liquidation threshold, or at the horizon when none does;
- percentile q of a distribution of N values: the ⌈qN⌉-th smallest (no interpolation);
- tail: the mean of the values at or beyond the 99 % percentile (of the path-wise sums
  of shortfall per lender and per commodity; a loan on several commodities is split
  between them by its lending value in each now).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from backend.domain.stress import Shock, StressBook, StressError, check_shock, lending_values, shocked_market

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
DEFAULT_DECAY = 0.94                           # RiskMetrics' λ for daily returns
PERCENTILES = (1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0)
TAIL = 0.99
MIN_RETURNS = 2                                # fewer: "no price history"
_PAIRS_PER_CHUNK = 2_000_000                   # (loan, path) pairs held at once
_CELLS_PER_CHUNK = 131_072                     # loans × paths at once: 1 MB arrays, held in cache


@dataclass(frozen=True, kw_only=True)
class MarketModel:
    commodity_ids: tuple[str, ...]
    volatility: Floats                         # per day, per commodity
    correlation: Floats                        # commodities × commodities
    drift: Floats                              # per day, per commodity (of the price)


@dataclass(frozen=True, kw_only=True)
class Exposure:
    """The book as the Monte Carlo sees it: loans × commodities."""
    loan_ids: tuple[str, ...]
    weights: Floats                            # lending value now, per loan and commodity
    attribution: Floats                        # each loan's split between commodities (rows sum to 1)
    outstanding: Floats
    margin_call: Floats                        # LTV thresholds per loan
    liquidation: Floats
    lender_group: Ints                         # index into lender_groups
    lender_groups: tuple[tuple[str, str], ...]     # (lender, currency)
    currency: Ints                             # index into currencies
    currencies: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PathRisk:
    """What the paths say, per loan and per group; group keys are (name, currency)."""
    ltv_percentiles: Floats                    # loans × PERCENTILES, at the horizon
    p_margin_call: Floats
    p_default: Floats
    expected_shortfall: Floats                 # per loan
    lender_shortfall: Mapping[tuple[str, str], tuple[float, float, float]]     # expected, p99, tail
    commodity_shortfall: Mapping[tuple[str, str], tuple[float, float, float]]


def exposure_of(book: StressBook, shock: Shock = Shock()) -> tuple[Exposure, tuple[str, ...], tuple[str, ...]]:
    """(the exposure of the valued loans after the shock, its commodity ids in column order,
    the loans left out because none of their lots is priced)."""
    check_shock(book, shock)
    prices, rates = shocked_market(book, shock)
    cache: dict[tuple[str, str], Decimal] = {}
    valued, unvalued = [], []
    for loan in book.loans:
        values = lending_values(book, loan, prices, rates, lost=shock.warehouses_lost, cache=cache)
        if values is None:
            unvalued.append(loan.id)
        else:
            valued.append((loan, values))
    ids = tuple(sorted({c for _, values in valued for c in values}))
    column = {c: k for k, c in enumerate(ids)}
    weights = np.zeros((len(valued), len(ids)))
    held = np.zeros((len(valued), len(ids)))
    for row, (_, values) in enumerate(valued):
        for c, value in values.items():
            weights[row, column[c]] = float(value)
            held[row, column[c]] = 1.0
    totals = weights.sum(axis=1, keepdims=True)
    # Split by lending value now; a loan worth nothing now (its goods lost) evenly.
    attribution = np.where(totals > 0, weights / np.where(totals > 0, totals, 1.0),
                           held / np.maximum(held.sum(axis=1, keepdims=True), 1.0))
    lenders = tuple(sorted({(loan.lender_id, loan.currency) for loan, _ in valued}))
    currencies = tuple(sorted({loan.currency for loan, _ in valued}))
    loans = [loan for loan, _ in valued]
    lender_index = {key: k for k, key in enumerate(lenders)}
    exposure = Exposure(
        loan_ids=tuple(loan.id for loan in loans), weights=weights, attribution=attribution,
        outstanding=np.array([float(loan.outstanding) for loan in loans], dtype=np.float64),
        margin_call=np.array([float(loan.thresholds.margin_call) for loan in loans], dtype=np.float64),
        liquidation=np.array([float(loan.thresholds.liquidation) for loan in loans], dtype=np.float64),
        lender_group=np.array([lender_index[(loan.lender_id, loan.currency)] for loan in loans], dtype=np.int64),
        lender_groups=lenders, currencies=currencies,
        currency=np.array([currencies.index(loan.currency) for loan in loans], dtype=np.int64).reshape(-1))
    return exposure, ids, tuple(unvalued)


def ewma_covariance(returns: Floats, decay: float = DEFAULT_DECAY) -> Floats:
    """EWMA covariance of the columns of `returns` (days × series, oldest first, zero mean):
    Σ_k λ^k r_{n−k} r_{n−k}ᵀ / Σ_k λ^k. NaN marks a missing return: each entry uses the
    days both series have (and its own weights)."""
    days, series = returns.shape
    weights = decay ** np.arange(days - 1, -1, -1, dtype=np.float64)
    present = np.isfinite(returns)
    filled = np.where(present, returns, 0.0)
    both = present.T.astype(np.float64) @ (present * weights[:, None])
    sums = (filled * weights[:, None]).T @ filled
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(both > 0, sums / both, np.nan), dtype=np.float64)


def _correlation(returns: Floats, decay: float) -> Floats:
    """Pairwise EWMA correlations (each over the days both series have), clipped to a valid
    correlation matrix; 0 where two series share fewer than MIN_RETURNS days."""
    count = returns.shape[1]
    correlation = np.eye(count)
    for i in range(count):
        for j in range(i + 1, count):
            pair = returns[:, [i, j]]
            both = pair[np.all(np.isfinite(pair), axis=1)]
            if len(both) < MIN_RETURNS:
                continue
            cov = ewma_covariance(both, decay)
            scale = math.sqrt(cov[0, 0] * cov[1, 1])
            correlation[i, j] = correlation[j, i] = cov[0, 1] / scale if scale > 0 else 0.0
    return nearest_correlation(correlation)


def nearest_correlation(matrix: Floats) -> Floats:
    """The matrix itself if it is positive definite; else its eigenvalues raised to a small
    floor and the diagonal brought back to 1 (pairwise estimates need not fit together)."""
    try:
        np.linalg.cholesky(matrix)
        return matrix
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(matrix)
        fixed = (vectors * np.maximum(values, 1e-8)) @ vectors.T
        scale = np.sqrt(np.diag(fixed))
        return np.asarray(fixed / np.outer(scale, scale), dtype=np.float64)


def estimate_model(returns: Mapping[str, Floats], *, decay: float = DEFAULT_DECAY,
                   fallback_volatility: float | None = None, drift: Mapping[str, float] | None = None,
                   idle: Sequence[str] = ()) -> MarketModel:
    """The model from daily log returns per commodity (aligned on the same days, NaN where
    a day is missing). A commodity with fewer than MIN_RETURNS returns takes
    `fallback_volatility` (uncorrelated with the others) or the run stops naming it.
    `idle` commodities carry no value in the book: they are held still (σ 0), no history asked."""
    model = _estimate(returns, decay, fallback_volatility, drift or {})
    if not idle:
        return model
    ids = model.commodity_ids + tuple(sorted(set(idle) - set(model.commodity_ids)))
    count, known = len(ids), len(model.commodity_ids)
    correlation = np.eye(count)
    correlation[:known, :known] = model.correlation
    order = np.argsort(np.array(ids))
    padded = np.zeros(count - known)
    volatility = np.concatenate([model.volatility, padded])[order]
    return MarketModel(commodity_ids=tuple(sorted(ids)), volatility=volatility,
                       correlation=correlation[np.ix_(order, order)],
                       drift=np.concatenate([model.drift, padded])[order])


def _estimate(returns: Mapping[str, Floats], decay: float, fallback_volatility: float | None,
              drift: Mapping[str, float]) -> MarketModel:
    ids = tuple(sorted(returns))
    table = np.column_stack([np.asarray(returns[c], dtype=np.float64) for c in ids]) if ids \
        else np.zeros((0, 0))
    counts = np.isfinite(table).sum(axis=0) if ids else np.zeros(0, dtype=np.int64)
    short = [c for c, n in zip(ids, counts) if n < MIN_RETURNS]
    if short and fallback_volatility is None:
        found = ", ".join(f"{c} ({n} returns)" for c, n in zip(ids, counts) if n < MIN_RETURNS)
        raise StressError(f"no price history for {found}: at least {MIN_RETURNS} daily returns are "
                          f"needed, or give a fallback volatility")
    volatility = np.array([math.sqrt(ewma_covariance(table[:, [k]], decay)[0, 0]) if counts[k] >= MIN_RETURNS
                           else float(fallback_volatility or 0.0) for k in range(len(ids))], dtype=np.float64)
    usable = table.copy()
    usable[:, [k for k, c in enumerate(ids) if c in short]] = np.nan
    drifts = np.array([drift.get(c, 0.0) for c in ids], dtype=np.float64)
    return MarketModel(commodity_ids=ids, volatility=volatility, correlation=_correlation(usable, decay), drift=drifts)


def simulate(model: MarketModel, *, horizon_days: int, paths: int, seed: int,
             steps_per_day: int = 1) -> Floats:
    """Relative prices R = S(t)/S(0): commodities × paths × (steps + 1), R[:, :, 0] = 1.
    The same seed gives the same paths. Each commodity draws its normals from its own stream
    (seed, commodity id): a commodity added to the run uncorrelated with the rest leaves
    their paths as they were, so a lender's run and the whole book's agree loan by loan."""
    if horizon_days < 1 or paths < 1 or steps_per_day < 1:
        raise StressError("horizon, paths and steps per day must be at least 1")
    count, steps = len(model.commodity_ids), horizon_days * steps_per_day
    dt = 1.0 / steps_per_day
    factor = np.linalg.cholesky(model.correlation) if count else np.zeros((0, 0))
    relatives = np.zeros((count, paths, steps + 1))
    increments = relatives[:, :, 1:]           # filled in place: one array of the paths' size
    for j, commodity_id in enumerate(model.commodity_ids):
        normals = np.random.default_rng([seed, _stream(commodity_id)]).standard_normal((paths, steps))
        for i in range(j, count):              # commodity i's shock: Σ_j L_ij z_j (L lower-triangular)
            if factor[i, j]:
                increments[i] += factor[i, j] * normals
    for i in range(count):
        sigma, mu = float(model.volatility[i]), float(model.drift[i])
        increments[i] *= sigma * math.sqrt(dt)
        increments[i] += (mu - sigma ** 2 / 2) * dt
    np.cumsum(relatives, axis=2, out=relatives)
    return np.exp(relatives, out=relatives)


def _stream(commodity_id: str) -> int:
    """A stable number per commodity id (Python's hash() changes from process to process)."""
    return int.from_bytes(hashlib.sha256(commodity_id.encode()).digest()[:8], "big")


def percentile_rank(percentile: float, count: int) -> int:
    """0-based index of the ⌈qN⌉-th smallest of `count` sorted values."""
    return min(count - 1, max(0, math.ceil(percentile / 100 * count - 1e-9) - 1))


class _Totals:
    """Path-wise sums of shortfall per group: groups × paths."""

    def __init__(self, keys: Sequence[tuple[str, str]], paths: int) -> None:
        self.keys, self.paths = tuple(keys), paths
        self.sums = np.zeros(len(self.keys) * paths)

    def add(self, groups: Ints, path_index: Ints, amounts: Floats) -> None:
        short = np.flatnonzero(amounts)            # most pairs owe nothing: skip a pass over all sums
        if short.size:
            cells = groups[short] * self.paths + path_index[short]
            self.sums += np.bincount(cells, weights=amounts[short], minlength=self.sums.size)

    def summary(self) -> dict[tuple[str, str], tuple[float, float, float]]:
        """Group -> (expected, 99 % percentile, tail mean); groups never short left out."""
        table = np.sort(self.sums.reshape(len(self.keys), self.paths), axis=1)
        rank = percentile_rank(TAIL * 100, self.paths)
        return {key: (float(row.mean()), float(row[rank]), float(row[rank:].mean()))
                for key, row in zip(self.keys, table) if row[-1] > 0}


def _commodity_keys(exposure: Exposure, commodity_ids: Sequence[str]) -> list[tuple[str, str]]:
    return [(c, ccy) for c in commodity_ids for ccy in exposure.currencies]


def evaluate(exposure: Exposure, relatives: Floats, commodity_ids: Sequence[str]) -> PathRisk:
    """Every loan against the simulated relative prices (commodities × paths × steps+1, in
    the order of `commodity_ids`, the columns of the exposure's weights)."""
    loans, (count, paths, _) = len(exposure.loan_ids), relatives.shape
    out = _Outputs(loans, paths, exposure, commodity_ids)
    nonzero = (exposure.weights > 0).sum(axis=1)
    main = np.argmax(exposure.attribution, axis=1) if count else np.zeros(loans, dtype=np.int64)
    for c in range(count):
        single = np.flatnonzero((nonzero <= 1) & (main == c))
        if single.size:
            _single_commodity(exposure, single, c, relatives[c], out)
    several = np.flatnonzero(nonzero > 1)
    if several.size:
        _several_commodities(exposure, several, relatives, out)
    return PathRisk(ltv_percentiles=out.ltv, p_margin_call=out.p_margin_call, p_default=out.p_default,
                    expected_shortfall=out.expected_shortfall, lender_shortfall=out.lenders.summary(),
                    commodity_shortfall=out.commodities.summary())


class _Outputs:
    def __init__(self, loans: int, paths: int, exposure: Exposure, commodity_ids: Sequence[str]) -> None:
        self.ltv = np.full((loans, len(PERCENTILES)), np.nan)
        self.p_margin_call, self.p_default = np.zeros(loans), np.zeros(loans)
        self.expected_shortfall = np.zeros(loans)
        self.lenders = _Totals(exposure.lender_groups, paths)
        self.commodities = _Totals(_commodity_keys(exposure, commodity_ids), paths)
        self.ranks = np.array([percentile_rank(q, paths) for q in PERCENTILES], dtype=np.int64)


def _single_commodity(exposure: Exposure, loans: Ints, c: int, relative: Floats, out: _Outputs) -> None:
    """Loans on commodity c alone: breaches by binary search in the sorted running minima;
    shortfall only on the paths whose minimum fell below the loan's LTV-1 level."""
    paths, points = relative.shape
    running_min = np.minimum.accumulate(relative, axis=1)
    minima = running_min[:, -1]
    order = np.argsort(minima, kind="stable")
    sorted_minima, sorted_final = minima[order], np.sort(relative[:, -1])
    weight, owed = exposure.weights[loans, c], exposure.outstanding[loans]
    with np.errstate(divide="ignore"):
        par = owed / weight                    # the relative price at which LTV is 1
    liquidation_level = par / exposure.liquidation[loans]
    out.p_margin_call[loans] = np.searchsorted(sorted_minima, par / exposure.margin_call[loans], "right") / paths
    out.p_default[loans] = np.searchsorted(sorted_minima, liquidation_level, "right") / paths
    with np.errstate(divide="ignore"):
        out.ltv[loans] = par[:, None] / sorted_final[paths - 1 - out.ranks][None, :]
    short_paths = np.searchsorted(sorted_minima, par, "left")   # the only paths with a shortfall
    group = exposure.lender_group[loans]
    commodity_group = c * len(exposure.currencies) + exposure.currency[loans]
    for start, stop in _pair_chunks(short_paths):
        counts = short_paths[start:stop]
        local = np.repeat(np.arange(start, stop), counts)
        offsets = np.arange(local.size) - np.repeat(np.cumsum(counts) - counts, counts)
        path = order[offsets]
        step = _first_at_or_below(running_min, path, liquidation_level[local])
        value = weight[local] * relative[path, np.minimum(step, points - 1)]
        shortfall = np.maximum(0.0, owed[local] - value)
        out.expected_shortfall[loans[start:stop]] = np.bincount(local - start, weights=shortfall,
                                                                minlength=stop - start) / paths
        out.lenders.add(group[local], path, shortfall)
        out.commodities.add(commodity_group[local], path, shortfall)


def _pair_chunks(counts: Ints) -> list[tuple[int, int]]:
    """Consecutive ranges of loans with at most _PAIRS_PER_CHUNK pairs each (or one loan)."""
    chunks, start, held = [], 0, 0
    for index, count in enumerate(counts.tolist()):
        if held and held + count > _PAIRS_PER_CHUNK:
            chunks.append((start, index))
            start, held = index, 0
        held += count
    if start < len(counts):
        chunks.append((start, len(counts)))
    return chunks


def _first_at_or_below(running_min: Floats, path: Ints, level: Floats) -> Ints:
    """Per pair, the first step whose running minimum is ≤ level (the number of steps when
    none is): a binary search, running minima being non-increasing along each path."""
    points = running_min.shape[1]
    flat = running_min.ravel()
    low, high = np.zeros(path.size, dtype=np.int64), np.full(path.size, points, dtype=np.int64)
    for _ in range(points.bit_length()):
        middle = (low + high) // 2
        hit = flat[path * points + np.minimum(middle, points - 1)] <= level
        searching = low < high
        high = np.where(searching & hit, middle, high)
        low = np.where(searching & ~hit, middle + 1, low)
    return low


def _several_commodities(exposure: Exposure, loans: Ints, relatives: Floats, out: _Outputs) -> None:
    """Loans on several commodities, in chunks of loans. L = Σ_c w_c · min_t R_c(t) bounds a
    path's lowest value from below: where it stays above the loan's margin-call, liquidation
    and LTV-1 values the path breaches nothing and costs nothing (most pairs: one comparison
    each); the other (loan, path) pairs are judged by _judge_pairs."""
    paths = relatives.shape[1]
    minima, final = relatives.min(axis=2), relatives[:, :, -1]
    at_lows = _at_each_commoditys_low(relatives)
    rows = max(1, _CELLS_PER_CHUNK // paths)
    for start in range(0, loans.size, rows):
        chunk = loans[start:start + rows]
        weights, owed = exposure.weights[chunk], exposure.outstanding[chunk]
        at_horizon, lowest = weights @ final, weights @ minima
        _ltv_percentiles(owed, at_horizon, chunk, out)
        level = np.minimum(np.minimum(exposure.margin_call[chunk], exposure.liquidation[chunk]), 1.0)
        local, path = np.nonzero(lowest <= (owed / level)[:, None])
        _judge_pairs(exposure, chunk, local, path, lowest[local, path], at_horizon[local, path], at_lows,
                     relatives, out)
        out.p_margin_call[chunk] /= paths
        out.p_default[chunk] /= paths
        out.expected_shortfall[chunk] /= paths


def _judge_pairs(exposure: Exposure, chunk: Ints, local: Ints, path: Ints, lowest: Floats, at_horizon: Floats,
                 at_lows: Floats, relatives: Floats, out: _Outputs) -> None:
    """(loan, path) pairs whose lower bound L reaches a threshold. The values now (step 0), at
    the horizon and at the step where any one commodity is lowest are values of the path, so
    they bound its lowest value from above:
    - L above the liquidation value: no default, and the shortfall is the one at the horizon;
    - one of those values at or below the margin-call value: a margin call; L above it: none.
    Only the pairs these leave open are valued step by step."""
    loan = chunk[local]
    weights, owed = exposure.weights[loan], exposure.outstanding[loan]
    call_value, default_value = owed / exposure.margin_call[loan], owed / exposure.liquidation[loan]
    called = (at_horizon <= call_value) | (weights.sum(axis=1) <= call_value)
    may_default = lowest <= default_value
    unsure = np.flatnonzero(~may_default & (lowest <= call_value) & ~called)
    step = max(1, _PAIRS_PER_CHUNK // at_lows[0].size)      # pairs × commodities² held at once
    for begin in range(0, unsure.size, step):
        part = unsure[begin:begin + step]
        low = np.einsum("nck,nk->nc", at_lows[path[part]], weights[part]).min(axis=1)
        called[part] = low <= call_value[part]
    stepwise = may_default | ((lowest <= call_value) & ~called)
    settled = ~stepwise
    out.p_margin_call[chunk] += np.bincount(local[called & settled], minlength=chunk.size)
    short = settled & (at_horizon < owed)
    _add_shortfall(exposure, loan[short], path[short], owed[short] - at_horizon[short], out)
    pairs = np.flatnonzero(stepwise)
    step = max(1, _PAIRS_PER_CHUNK // relatives[:, 0].size)  # pairs × commodities × steps held at once
    for begin in range(0, pairs.size, step):
        part = pairs[begin:begin + step]
        _value_pairs(exposure, loan[part], path[part], relatives, out)


def _at_each_commoditys_low(relatives: Floats) -> Floats:
    """paths × commodities × commodities: row c holds every commodity's relative price at
    the step where commodity c is lowest on that path."""
    count, paths, _ = relatives.shape
    low_step = relatives.argmin(axis=2).T                     # paths × commodities
    at_lows: Floats = relatives[np.arange(count)[None, None, :], np.arange(paths)[:, None, None], low_step[:, :, None]]
    return at_lows


def _ltv_percentiles(owed: Floats, at_horizon: Floats, chunk: Ints, out: _Outputs) -> None:
    """The chunk's LTV percentiles at the horizon, the values sorted in float32 (three times
    faster than float64). Rounding is monotone, so the k-th smallest rounded value is the
    k-th smallest value rounded: each percentile is off by at most 2⁻²⁴ of itself (6e-8)."""
    paths = at_horizon.shape[1]
    values = np.sort(at_horizon.astype(np.float32), axis=1)[:, paths - 1 - out.ranks]
    with np.errstate(divide="ignore"):
        out.ltv[chunk] = owed[:, None] / values


def _value_pairs(exposure: Exposure, loan: Ints, path: Ints, relatives: Floats, out: _Outputs) -> None:
    """(loan, path) pairs valued at every step: breaches counted, shortfalls added up (the
    caller divides the per-loan sums by the number of paths)."""
    values = np.einsum("cnt,nc->nt", relatives[:, path, :], exposure.weights[loan])
    owed = exposure.outstanding[loan]
    breach = values <= (owed / exposure.liquidation[loan])[:, None]
    breached = breach.any(axis=1)
    step = np.where(breached, np.argmax(breach, axis=1), values.shape[1] - 1)
    shortfall = np.maximum(0.0, owed - values[np.arange(loan.size), step])
    called = values.min(axis=1) <= owed / exposure.margin_call[loan]
    out.p_margin_call += np.bincount(loan, weights=called, minlength=out.p_margin_call.size)
    out.p_default += np.bincount(loan, weights=breached, minlength=out.p_default.size)
    _add_shortfall(exposure, loan, path, shortfall, out)


def _add_shortfall(exposure: Exposure, loan: Ints, path: Ints, shortfall: Floats, out: _Outputs) -> None:
    """Shortfalls of (loan, path) pairs of loans on several commodities, added to the loans'
    sums and to the path-wise totals per lender and per commodity (split by attribution)."""
    out.expected_shortfall += np.bincount(loan, weights=shortfall, minlength=out.expected_shortfall.size)
    out.lenders.add(exposure.lender_group[loan], path, shortfall)
    currency = exposure.currency[loan]
    for c in range(exposure.weights.shape[1]):
        share = exposure.attribution[loan, c]
        if share.any():
            out.commodities.add(c * len(exposure.currencies) + currency, path, shortfall * share)
