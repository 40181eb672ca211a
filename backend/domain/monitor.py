"""The monitor's step function: (state, registry, messages, market, now) → (state, events).

The monitor service calls `step` periodically and whenever new messages arrive. It is
pure: everything it needs comes in as values and everything it found goes out as values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

from backend.domain import alerts, delivery, gateways, inspections, ltv, reconcile, sensors, unverified, valuation
from backend.domain.alerts import AlertBook, Condition
from backend.domain.config import MonitorConfig
from backend.domain.observations import GatewayMessage, LotSample, PriceTick, RfidRound
from backend.domain.registry import Commodity, Loan, Lot, Registry
from backend.domain.stock import LotView, ValuedQuantity, _median, assess_lot, next_valued

_CENT = Decimal("0.01")
_NONE: frozenset[str] = frozenset()
_AT_S = attrgetter("at_s")
_new = tuple.__new__                          # a NamedTuple from all its fields, without
                                              # its Python-level __new__ (per lot per step)
DEFAULT_CONFIG = MonitorConfig()
# What a lot's value is made of: (quantity, unit price or None while unpriced, commodity,
# temperature exposure in degree-minutes, lending share or None while verified).
LotInputs = tuple[Decimal, Decimal | None, Commodity, float, Decimal | None]
UnitPrice = tuple[Decimal | None, Commodity, bool]   # (price, commodity, stale)


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


class LotTrack(NamedTuple):                   # rebuilt per lot per step: see sensors.py
    rfid: sensors.RfidTrack = sensors.RfidTrack()
    scale: sensors.ScaleTrack = sensors.ScaleTrack()
    probe: sensors.ProbeTrack = sensors.ProbeTrack()


@dataclass(frozen=True, slots=True)
class LoanView:
    loan_id: str
    status: ltv.LoanStatus
    ltv: Decimal | None                        # None: not valued yet; Infinity: no collateral
    collateral_value: Decimal | None
    outstanding: Decimal
    drawing_power: Decimal | None
    cure_deadline_s: float | None
    cure_amount: Decimal | None                # while in margin_call or liquidation
    price_stale: bool
    unpriced_lots: tuple[str, ...] = ()        # worth 0 until their commodity has a price
    unverified_lots: tuple[str, ...] = ()      # lending on the unverified schedule
    market_value: Decimal | None = None        # valued quantity × price: before haircut,
                                               # quality and the unverified schedule


@dataclass(frozen=True, slots=True)
class Market:
    ticks: tuple[PriceTick, ...] = ()          # new since the last step
    fx_rates: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LoanStatusChanged:
    loan_id: str
    previous: str
    status: str
    ltv: Decimal | None
    at_s: float


@dataclass(frozen=True, slots=True)
class EvaluationFailed:
    """One lot's, loan's or reading's evaluation raised: the rest of the step went on."""
    stage: str                                 # "reading", "lot" or "loan"
    subject: str
    error: str


@dataclass(frozen=True, slots=True)
class MonitorState:
    started_s: float | None = None
    gateways: Mapping[str, gateways.GatewayTrack] = field(default_factory=_empty)
    lots: Mapping[str, LotTrack] = field(default_factory=_empty)
    prices: Mapping[str, valuation.PriceMark] = field(default_factory=_empty)
    standings: Mapping[str, ltv.LoanStanding] = field(default_factory=_empty)
    alerts: AlertBook = AlertBook()
    lot_views: Mapping[str, LotView] = field(default_factory=_empty)
    valued: Mapping[str, ValuedQuantity] = field(default_factory=_empty)
    loan_views: Mapping[str, LoanView] = field(default_factory=_empty)
    # Loan id → (loan, per-lot valuation inputs) behind its view: unchanged, it is reused.
    valuation_inputs: Mapping[str, tuple[Loan, tuple[LotInputs, ...] | None]] = field(default_factory=_empty)
    unverified: Mapping[str, unverified.Unverified] = field(default_factory=_empty)  # by lot
    blind_periods: Mapping[str, tuple[float, float]] = field(default_factory=_empty)  # the last, by lot
    inspected: Mapping[str, inspections.Inspection] = field(default_factory=_empty)  # the last, by lot
    short_counts: Mapping[str, tuple[inspections.Inspection, str]] = field(default_factory=_empty)
    tasks: frozenset[str] = frozenset()        # lots whose inspection task is not done
    overdue: frozenset[str] = frozenset()      # lots whose inspection task is overdue
    # (registry, EPCs excused by delivery orders, the registry judged): reused while both hold
    judged: tuple[Registry, Mapping[str, frozenset[str]], Registry] | None = None


@dataclass(slots=True)
class _Verification:
    """The unverified episodes of the last step, and this step's (filled lot by lot)."""
    held: Mapping[str, unverified.Unverified]
    episodes: dict[str, unverified.Unverified]
    blind: dict[str, tuple[float, float]]


@dataclass(frozen=True, slots=True)
class StepResult:
    state: MonitorState
    events: tuple[object, ...]                 # AlertOpened, AlertResolved, LoanStatusChanged,
                                               # InspectionRecorded, InspectionOpened,
                                               # InspectionOverdue
    errors: tuple[EvaluationFailed, ...] = ()  # for the service to log and count


def step(state: MonitorState, registry: Registry, messages: Sequence[GatewayMessage],
         market: Market, now_s: float, config: MonitorConfig = DEFAULT_CONFIG,
         notices: Iterable[Condition] = (),
         counts: Sequence[inspections.Inspection] = (),
         owns: Callable[[Condition], bool] | None = None) -> StepResult:
    """Advance the monitor to `now_s`. `notices` are one-off conditions from registry
    commands (a refused pledge) to be raised as alerts; `counts` are inspections recorded
    since the last step; `owns`: which conditions this monitor raises alerts for (its
    partition's, see partitions.py; None: all)."""
    started_s = now_s if state.started_s is None else state.started_s
    errors: list[EvaluationFailed] = []
    gateway_tracks = _track_gateways(state, registry, messages, started_s, now_s, config)
    lot_tracks = _track_lots(state, registry, messages, now_s, config, errors)
    settled, judged = _deliveries(state, registry, lot_tracks, now_s, config)
    registry = judged[2]
    held, inspected, shorts, recorded = _record_counts(state, registry, counts, config)
    checks = _Verification(held, {}, dict(state.blind_periods))
    lot_views, conditions = _assess_lots(state, registry, gateway_tracks, lot_tracks, now_s, config,
                                         errors, checks)
    conditions += [c for gw_id, track in gateway_tracks.items()
                   for c in gateways.gateway_conditions(gw_id, track, now_s, config)]
    valued = _value_quantities(state.valued, lot_views, now_s, config.confirmation_s)
    for lot_id, (count, reason) in shorts.items():      # valued at what was counted
        if lot_id in valued and count.quantity < valued[lot_id].quantity:
            valued[lot_id] = ValuedQuantity(count.quantity)
        conditions.append(inspections.short_condition(count, registry, reason))
    prices, price_conditions = _mark_prices(state, registry, market.ticks, now_s, config)
    conditions += price_conditions
    standings, loan_views, inputs, loan_conditions, changes = _value_loans(
        state, registry, valued, lot_tracks, prices, market, now_s, config, errors, checks.episodes)
    conditions += loan_conditions
    conditions += [_failure_condition(registry, error) for error in errors]
    conditions += notices
    if owns is not None:
        conditions = [c for c in conditions if owns(c)]
    book, alert_events = alerts.update(state.alerts, conditions, int(now_s),
                                       config.confirmation_s, config.clear_s)
    open_tasks, overdue, task_events = _task_changes(state, book, inspected, registry, now_s, config)
    new_state = MonitorState(started_s, gateway_tracks, lot_tracks, prices, standings, book,
                             lot_views, valued, loan_views, inputs, checks.episodes, checks.blind,
                             inspected, shorts, open_tasks, overdue, judged)
    return StepResult(new_state, (*changes, *alert_events, *recorded, *task_events, *settled.closed),
                      tuple(errors))


_SETTLED_NONE = delivery.Settlement({}, ())


def _deliveries(state: MonitorState, registry: Registry, lot_tracks: Mapping[str, LotTrack], now_s: float,
                config: MonitorConfig) -> tuple[delivery.Settlement, tuple[Registry, Mapping[str, frozenset[str]],
                                                                            Registry]]:
    """The open delivery orders settled against what the readers see, and the registry the
    step judges (the last step's, when the registry and what the orders excuse are the same)."""
    settled = _SETTLED_NONE
    if registry.delivery_orders:
        settled = delivery.settle(registry.delivery_orders, lambda lot_id: delivery.seen_epcs(
            lot_tracks[lot_id].rfid, now_s, config) if lot_id in lot_tracks else None, now_s)
    held = state.judged
    if held is not None and held[0] is registry and held[1] == settled.excused:
        return settled, held
    return settled, (registry, settled.excused, delivery.monitored(registry, settled.excused))


def _record_counts(state: MonitorState, registry: Registry, counts: Sequence[inspections.Inspection],
                   config: MonitorConfig) -> tuple[Mapping[str, unverified.Unverified],
                                                   Mapping[str, inspections.Inspection],
                                                   Mapping[str, tuple[inspections.Inspection, str]],
                                                   list[inspections.InspectionRecorded]]:
    """(unverified episodes to carry on, last count and short counts by lot, events). A
    matching count ends the lot's episode and its short count; a short one stands."""
    if not counts:
        return state.unverified, state.inspected, state.short_counts, []
    held, inspected, shorts = dict(state.unverified), dict(state.inspected), dict(state.short_counts)
    recorded = []
    for count in sorted(counts, key=_AT_S):
        if count.lot_id not in registry.lots:
            continue                           # the service checks the lot; a stale one
        reason = inspections.shortfall(count, registry, config)
        inspected[count.lot_id] = count
        if reason is None:
            held.pop(count.lot_id, None)
            shorts.pop(count.lot_id, None)
        else:
            shorts[count.lot_id] = (count, reason)
        recorded.append(inspections.InspectionRecorded(
            count, registry.loan_of_lot.get(count.lot_id), reason is None, reason or "count matches"))
    return held, inspected, shorts, recorded


def _task_changes(state: MonitorState, book: AlertBook, inspected: Mapping[str, inspections.Inspection],
                  registry: Registry, now_s: float,
                  config: MonitorConfig) -> tuple[frozenset[str], frozenset[str], list[object]]:
    """The inspection tasks not done now, the lots whose task is overdue, and an event for
    each task newly opened or newly overdue (the lender hears of both)."""
    if not book.active:
        return frozenset(), frozenset(), []
    pending = [t for t in inspections.tasks(book.active.values(), inspected, registry, now_s, config)
               if t.state != "done"]
    events: list[object] = [inspections.InspectionOpened(t) for t in pending
                            if t.lot_id not in state.tasks]
    events += [inspections.InspectionOverdue(t) for t in pending
               if t.state == "overdue" and t.lot_id not in state.overdue]
    return (frozenset(t.lot_id for t in pending),
            frozenset(t.lot_id for t in pending if t.state == "overdue"), events)


def _failure(stage: str, subject: str, exc: Exception) -> EvaluationFailed:
    return EvaluationFailed(stage, subject, f"{type(exc).__name__}: {exc}")


def _failure_condition(registry: Registry, error: EvaluationFailed) -> Condition:
    """What cannot be evaluated is not watched: `monitoring_blind` on that lot or loan."""
    details = {"reason": "evaluation error", "error": error.error}
    if error.stage == "loan":
        loan = registry.loans.get(error.subject)
        return Condition("monitoring_blind", error.subject, loan=error.subject,
                         lender=loan.lender_id if loan else None, details=details)
    return Condition("monitoring_blind", error.subject, loan=registry.loan_of_lot.get(error.subject),
                     lot=error.subject, lender=registry.lender_of_lot(error.subject),
                     details=details)


def _value_quantities(held: Mapping[str, ValuedQuantity], lot_views: Mapping[str, LotView],
                      now_s: float, window_s: float) -> dict[str, ValuedQuantity]:
    valued = {}
    for lot_id, view in lot_views.items():
        previous = held.get(lot_id)
        # Seen whole, at the pledge it was valued at: what next_valued keeps, without asking.
        if (previous is not None and previous.lower_since_s is None
                and view.observed_quantity is previous.quantity is view.pledged_quantity):
            valued[lot_id] = previous
        else:
            valued[lot_id] = next_valued(previous, view, now_s, window_s)
    return valued


def _by_gateway(messages: Sequence[GatewayMessage]) -> dict[str, list[GatewayMessage]]:
    grouped: dict[str, list[GatewayMessage]] = {}
    for message in messages:
        grouped.setdefault(message.gateway_id, []).append(message)
    return grouped


def _track_gateways(state: MonitorState, registry: Registry, messages: Sequence[GatewayMessage],
                    started_s: float, now_s: float,
                    config: MonitorConfig) -> dict[str, gateways.GatewayTrack]:
    grouped = _by_gateway(messages)
    tracks = {}
    for gateway_id in registry.gateways:
        previous = state.gateways.get(gateway_id) or gateways.GatewayTrack(started_s)
        tracks[gateway_id] = gateways.track_gateway(previous, grouped.get(gateway_id, ()),
                                                    now_s, config)
    return tracks


def _trusted_samples(messages: Sequence[GatewayMessage]) -> list[LotSample]:
    samples = [s for m in messages if m.signature_ok for s in m.samples]
    samples.sort(key=_AT_S)                    # a replayed backlog arrives in order of time
    return samples


def _track_lots(state: MonitorState, registry: Registry, messages: Sequence[GatewayMessage],
                now_s: float, config: MonitorConfig,
                errors: list[EvaluationFailed]) -> dict[str, LotTrack]:
    previous, empty = state.lots, LotTrack()
    if previous.keys() == registry.lots.keys():
        tracks = dict(previous)                # the same lots as last step: the usual case
    else:
        tracks = {lot_id: previous.get(lot_id) or empty for lot_id in registry.lots}
    lots, commodities = registry.lots, registry.commodities
    track_rfid, track_scale, track_probe = sensors.track_rfid, sensors.track_scale, sensors.track_probe
    for sample in _trusted_samples(messages):
        track = tracks.get(sample.lot_id)
        if track is None:
            continue                           # a lot the registry does not know
        rfid, scale, probe = track
        try:
            tracks[sample.lot_id] = _new(LotTrack, (
                track_rfid(rfid, sample, now_s, config),
                track_scale(scale, sample, now_s, config),
                track_probe(probe, sample, commodities[lots[sample.lot_id].commodity_id], now_s,
                            config)))
        except Exception as exc:               # a poisoned reading: dropped, reported
            errors.append(_failure("reading", sample.lot_id, exc))
    return tracks


def _assess_lots(state: MonitorState, registry: Registry,
                 gateway_tracks: Mapping[str, gateways.GatewayTrack],
                 lot_tracks: Mapping[str, LotTrack], now_s: float, config: MonitorConfig,
                 errors: list[EvaluationFailed],
                 checks: _Verification) -> tuple[dict[str, LotView], list[Condition]]:
    views, conditions = {}, []
    healthy_gateways = {gateway_id: gateways.is_healthy(track, now_s, config)
                        for gateway_id, track in gateway_tracks.items()}
    stale_s, silent_s = config.stale_after_s, config.silent_after_s
    stuck_repeats = config.stuck_after_readings - 1     # from this many repeats: stuck
    tolerance_fraction, resolution_kg = config.weight_tolerance_fraction, config.scale_resolution_kg
    max_fraction = 1 + tolerance_fraction
    pledged_epcs, held_views = registry.pledged_epcs, state.lot_views
    lot_gateways, commodities = registry.lot_gateways, registry.commodities
    pledged_quantities, pledged_bits = registry.pledged_quantity, registry.pledged_bits
    held_episodes = checks.held
    for lot_id, lot in registry.lots.items():
        try:
            rfid, scale, probe = lot_tracks[lot_id]
            rounds, rfid_heard_s, fresh_s, rfid_repeats = rfid
            weights, scale_heard_s, scale_repeats = scale
            gateway_id = lot_gateways[lot_id]
            # sensor_conditions' own first test, made here: lively sensors raise nothing.
            if not (rfid_heard_s is not None and now_s - rfid_heard_s < silent_s
                    and rfid_repeats < stuck_repeats
                    and scale_heard_s is not None and now_s - scale_heard_s < silent_s
                    and scale_repeats < stuck_repeats
                    and (lot.probe_id is None or (
                        probe.heard_s is not None and now_s - probe.heard_s < silent_s
                        and probe.repeats < stuck_repeats))):
                conditions += sensors.sensor_conditions(lot, rfid, scale, probe, gateway_id,
                                                        gateway_tracks[gateway_id], now_s, config,
                                                        registry.loan_of_lot.get(lot_id),
                                                        registry.lender_of_lot(lot_id))
            # The usual lot: every item pledged, RFID and scale usable, every tag and nothing
            # else in the read window, the weight within tolerance. Its view is what assess_lot
            # builds for that case, and it shows no stock or tag condition.
            pledged = pledged_epcs[lot_id]
            if (pledged is lot.epcs and fresh_s is not None and now_s - fresh_s <= stale_s
                    and scale_heard_s is not None and now_s - scale_heard_s <= stale_s
                    and scale_repeats < 2     # a repeating scale: see unverified._repeating
                    and _window_is(rounds, lot, pledged_bits[lot_id])):
                total_kg = lot.total_weight_kg
                tolerance_kg = total_kg * tolerance_fraction + resolution_kg
                max_kg = total_kg * max_fraction + resolution_kg
                # the median weight, of an odd count as a rule
                median_kg = sorted(weights)[len(weights) // 2] if len(weights) % 2 else _median(weights)
                weight_net_kg = median_kg - lot.tare_kg
                if total_kg - tolerance_kg <= weight_net_kg <= max_kg and total_kg > 0:
                    quantity, items = pledged_quantities[lot_id], len(pledged)
                    view = views[lot_id] = _new(LotView, (
                        lot_id, items, quantity, items, quantity, True, True, _NONE, _NONE,
                        weight_net_kg, total_kg, tolerance_kg, max_kg))
                    # live, signed and agreeing: only a probe or an earlier episode can fail it
                    probe_ok = True
                    if commodities[lot.commodity_id].perishable:
                        conditions += _temperature(lot, registry, probe, now_s, config)
                        probe_ok = (probe.heard_s is not None and now_s - probe.heard_s <= stale_s
                                    and probe.repeats < stuck_repeats)    # probe_usable
                    if not probe_ok or lot_id in held_episodes:
                        conditions += _verify(lot_id, registry, view, lot_tracks[lot_id],
                                              gateway_tracks[gateway_id], now_s, config, checks)
                    continue
            view = assess_lot(lot, registry, rfid, scale, held_views.get(lot_id), now_s, config)
            views[lot_id] = view
            conditions += _verify(lot_id, registry, view, lot_tracks[lot_id],
                                  gateway_tracks[gateway_id], now_s, config, checks)
            if lot_id in registry.loan_of_lot:
                conditions += unverified.with_blind_period(
                    reconcile.stock_conditions(lot, view, registry, healthy_gateways[gateway_id]),
                    unverified.blind_period(checks.episodes.get(lot_id), checks.blind.get(lot_id)),
                    now_s, config)
            if view.foreign_epcs:
                conditions += reconcile.tag_conflicts(lot, view, registry)
            conditions += _temperature(lot, registry, probe, now_s, config)
        except Exception as exc:               # one lot's bug must not blind the others
            errors.append(_failure("lot", lot_id, exc))
            if lot_id in held_views:
                views[lot_id] = held_views[lot_id]
            if lot_id in checks.held:
                checks.episodes[lot_id] = checks.held[lot_id]
    return views, conditions


def _verify(lot_id: str, registry: Registry, view: LotView, track: LotTrack,
            gateway_track: gateways.GatewayTrack, now_s: float, config: MonitorConfig,
            checks: _Verification) -> list[Condition]:
    """The lot's unverified episode (started, kept or ended) and its condition."""
    lot = registry.lots[lot_id]
    previous = checks.held.get(lot_id)
    failure = unverified.witness_failure(view, track.rfid, track.scale, track.probe, gateway_track,
                                         registry.commodities[lot.commodity_id].perishable,
                                         now_s, config, previous is not None)
    episode = unverified.next_episode(previous, failure, now_s, unverified.probation_s(config))
    if episode is None:
        if previous is not None and previous.back_s is not None:  # the episode ended: back since
            checks.blind[lot_id] = (previous.since_s, previous.back_s)
        return []
    checks.episodes[lot_id] = episode
    loan_id = registry.loan_of_lot.get(lot_id)
    # On probation after a gap too short to be confirmed: nothing to report.
    if loan_id is None or (episode.back_s is not None
                           and episode.back_s - episode.since_s < config.confirmation_s):
        return []
    return [unverified.unverified_condition(lot_id, episode, loan_id, registry.lender_of_lot(lot_id),
                                            registry.lot_gateways[lot_id])]


def _temperature(lot: Lot, registry: Registry, probe: sensors.ProbeTrack, now_s: float,
                 config: MonitorConfig) -> list[Condition]:
    probe_ok = lot.probe_id is not None and sensors.probe_usable(probe, now_s, config)
    return reconcile.temperature_condition(lot, registry, probe.temperature_c, probe_ok)


def _window_is(rounds: tuple[RfidRound, ...], lot: Lot, epc_bits: int) -> bool:
    """Whether the RFID read window (these rounds) read exactly these EPCs of the lot (as bits
    over its `epc_order`), as stock._rfid_sets merges it: the OR of its rounds, nothing else."""
    order, seen = lot.epc_order, 0
    for rfid_round in rounds:
        named, _, bits, round_order = rfid_round
        if round_order is order:
            if named:
                return False                   # a tag that is not the lot's
            seen |= bits
        else:                                  # a round reported by name
            epcs = rfid_round.epcs
            bits = lot.bits_of(epcs)
            if bits.bit_count() != len(epcs):
                return False
            seen |= bits
    return seen == epc_bits


def _mark_prices(state: MonitorState, registry: Registry, ticks: Sequence[PriceTick],
                 now_s: float, config: MonitorConfig
                 ) -> tuple[dict[str, valuation.PriceMark], list[Condition]]:
    marks = dict(state.prices)
    for tick in sorted(ticks, key=lambda t: t.at_s):
        if tick.commodity_id in registry.commodities:
            previous = marks.get(tick.commodity_id) or valuation.PriceMark()
            marks[tick.commodity_id] = valuation.mark_price(previous, tick, config)
    conditions = []
    for commodity_id, mark in marks.items():
        accepted = mark.accepted
        if accepted is None:                        # a mark always starts from an accepted tick
            continue
        if valuation.price_is_stale(mark, registry.commodities[commodity_id], now_s):
            conditions.append(Condition("price_stale", commodity_id, details={
                "commodity": commodity_id, "age_s": int(now_s - accepted.at_s)}))
        if mark.suspect is not None:
            conditions += _price_outliers(registry, commodity_id, accepted, mark.suspect)
    for commodity_id in registry.pledged_commodities:
        pledged_mark = marks.get(commodity_id)
        if pledged_mark is None or pledged_mark.accepted is None:   # pledged goods worth 0 until priced
            conditions.append(Condition("price_stale", commodity_id, details={
                "commodity": commodity_id, "age_s": None, "reason": "no price"}))
    return marks, conditions


def _price_outliers(registry: Registry, commodity_id: str, accepted: PriceTick,
                    suspect: PriceTick) -> list[Condition]:
    """A held outlier quote, addressed to each lender whose collateral it prices (to staff
    alone when no loan holds the commodity)."""
    details = {"commodity": commodity_id, "accepted": float(accepted.price), "quoted": float(suspect.price)}
    lenders = registry.lenders_of_commodity.get(commodity_id)
    if not lenders:
        return [Condition("price_outlier", commodity_id, details=details)]
    return [Condition("price_outlier", f"{commodity_id}/{lender}", lender=lender, details=details)
            for lender in lenders]


def _valuation_inputs(loan: Loan, registry: Registry, valued: Mapping[str, ValuedQuantity],
                      lot_tracks: Mapping[str, LotTrack], prices: Mapping[str, valuation.PriceMark],
                      market: Market, now_s: float, unit_prices: dict[tuple[str, str], UnitPrice] | None = None,
                      episodes: Mapping[str, unverified.Unverified] | None = None,
                      config: MonitorConfig = DEFAULT_CONFIG) -> tuple[tuple[LotInputs, ...] | None, bool]:
    """(quantity, unit price, commodity, exposure, lending share) per lot of the loan, and
    staleness. A lot whose commodity has no price yet is worth 0 (price None); a loan none of
    whose lots has a price is not valued yet (None). The share is None for a verified lot,
    else what the unverified schedule leaves of its value."""
    inputs: list[LotInputs] = []
    stale, priced_lots = False, 0
    unit_prices = {} if unit_prices is None else unit_prices
    for lot_id in loan.lot_ids:
        commodity_id = registry.lots[lot_id].commodity_id
        # The same tick, commodity, currency and rates give the same price: once per step.
        key = (commodity_id, loan.currency)
        priced = unit_prices.get(key)
        if priced is None:
            priced = unit_prices[key] = _unit_price(registry.commodities[commodity_id],
                                                    loan.currency, prices, market, now_s)
        price, commodity, price_stale = priced
        priced_lots += price is not None
        stale = stale or price_stale
        episode = episodes.get(lot_id) if episodes else None
        share = None if episode is None else unverified.lending_share(
            episode, unverified.schedule_of(loan, commodity, config), now_s)
        inputs.append((valued[lot_id].quantity, price, commodity,
                       lot_tracks[lot_id].probe.exposure_degree_min, share))
    return (tuple(inputs) if priced_lots else None), stale


def _unit_price(commodity: Commodity, currency: str, prices: Mapping[str, valuation.PriceMark],
                market: Market, now_s: float) -> UnitPrice:
    """(unit price in `currency` or None while unpriced, the commodity, price staleness)."""
    mark = prices.get(commodity.id)
    if mark is None or mark.accepted is None:
        return None, commodity, False
    return (valuation.unit_price(mark.accepted, commodity, currency, market.fx_rates),
            commodity, valuation.price_is_stale(mark, commodity, now_s))


def _collateral_value(loan: Loan, inputs: tuple[LotInputs, ...]) -> Decimal:
    total = Decimal(0)
    for quantity, price, commodity, exposure, share in inputs:
        if price is None:
            continue                           # unpriced: worth 0 until priced
        quality = valuation.quality_factor(exposure, commodity)
        value = valuation.lot_value(quantity, price, loan.haircut, quality)
        total += value if share is None else value * share
    return total.quantize(_CENT)


def _market_value(inputs: tuple[LotInputs, ...]) -> Decimal:
    """What a bank reconciles against the market: quantity × price, nothing taken off."""
    return sum((quantity * price for quantity, price, *_ in inputs if price is not None),
               Decimal(0)).quantize(_CENT)


def _loan_condition(kind: str, loan: Loan, **details: object) -> Condition:
    return Condition(kind, loan.id, loan=loan.id, lender=loan.lender_id, details=details)


def _ltv_conditions(loan: Loan, view: LoanView, cured: bool) -> list[Condition]:
    ratio = None if view.ltv is None or not view.ltv.is_finite() else round(float(view.ltv), 4)
    conditions = []
    if view.status == "warning":
        conditions.append(_loan_condition("ltv_warning", loan, ltv=ratio))
    elif view.status == "margin_call":
        deadline, amount = view.cure_deadline_s, view.cure_amount
        conditions.append(_loan_condition(
            "margin_call", loan, ltv=ratio,
            cure_deadline_s=None if deadline is None else int(deadline),
            cure_amount=None if amount is None else float(amount)))
    elif view.status in ("liquidation", "default"):
        reason = "cure period expired" if view.status == "default" else "above liquidation threshold"
        conditions.append(_loan_condition("liquidation", loan, ltv=ratio, reason=reason))
    if cured:
        conditions.append(_loan_condition("ltv_cured", loan, ltv=ratio))
    return conditions


def _value_loans(state: MonitorState, registry: Registry, valued: Mapping[str, ValuedQuantity],
                 lot_tracks: Mapping[str, LotTrack], prices: Mapping[str, valuation.PriceMark],
                 market: Market, now_s: float, config: MonitorConfig,
                 errors: list[EvaluationFailed], episodes: Mapping[str, unverified.Unverified]
                 ) -> tuple[dict[str, ltv.LoanStanding], dict[str, LoanView],
                            dict[str, tuple[Loan, tuple[LotInputs, ...] | None]], list[Condition],
                            list[LoanStatusChanged]]:
    standings: dict[str, ltv.LoanStanding] = {}
    views: dict[str, LoanView] = {}
    all_inputs: dict[str, tuple[Loan, tuple[LotInputs, ...] | None]] = {}
    conditions: list[Condition] = []
    changes: list[LoanStatusChanged] = []
    unit_prices: dict[tuple[str, str], UnitPrice] = {}   # see _valuation_inputs
    held_views, held_inputs, held_standings = (state.loan_views, state.valuation_inputs,
                                               state.standings)
    for loan_id, loan in registry.loans.items():
        try:
            inputs, stale = _valuation_inputs(loan, registry, valued, lot_tracks, prices, market,
                                              now_s, unit_prices, episodes, config)
            previous_view = held_views.get(loan_id)
            # The same loan (same object: same amounts, to the digit) on equal inputs has the
            # same value and LTV: the cent-rounded value does not depend on how they are written.
            known = held_inputs.get(loan_id)
            same_value = (inputs is not None and previous_view is not None and known is not None
                          and known[0] is loan and known[1] == inputs)
            if same_value and previous_view is not None:
                value, ratio = previous_view.collateral_value, previous_view.ltv
                market_value = previous_view.market_value
            else:
                value = None if inputs is None else _collateral_value(loan, inputs)
                market_value = None if inputs is None else _market_value(inputs)
                ratio = None if value is None else valuation.loan_to_value(loan.outstanding, value)
            previous = held_standings.get(loan_id) or ltv.LoanStanding(since_s=now_s)
            standing, cured = ltv.next_standing(previous, ratio, loan.thresholds,
                                                loan.cure_period_s, config.ltv_hysteresis, now_s,
                                                loan.target_ltv)
            if standing.status != previous.status:
                changes.append(LoanStatusChanged(loan_id, previous.status, standing.status, ratio,
                                                 now_s))
            if same_value and previous_view is not None and standing is previous \
                    and stale == previous_view.price_stale:
                view = previous_view
            else:
                view = _loan_view(loan_id, loan, standing, value, ratio, stale,
                                  _unpriced(loan, inputs), unverified.episodes_of(loan, episodes),
                                  market_value)
            standings[loan_id], views[loan_id] = standing, view
            all_inputs[loan_id] = known if same_value and known is not None else (loan, inputs)
            if (cured or view.status != "normal") and loan.active:
                conditions += _ltv_conditions(loan, view, cured)
        except Exception as exc:               # one loan's bug must not stop the others
            errors.append(_failure("loan", loan_id, exc))
            if loan_id in held_standings:
                standings[loan_id] = held_standings[loan_id]
            if loan_id in held_views:
                views[loan_id] = held_views[loan_id]
            if loan_id in held_inputs:
                all_inputs[loan_id] = held_inputs[loan_id]
    return standings, views, all_inputs, conditions, changes


def _unpriced(loan: Loan, inputs: tuple[LotInputs, ...] | None) -> tuple[str, ...]:
    if inputs is None:
        return loan.lot_ids
    return tuple(lot_id for lot_id, lot_inputs in zip(loan.lot_ids, inputs)
                 if lot_inputs[1] is None)


def _loan_view(loan_id: str, loan: Loan, standing: ltv.LoanStanding, value: Decimal | None,
               ratio: Decimal | None, stale: bool, unpriced: tuple[str, ...] = (),
               unverified_lots: tuple[str, ...] = (),
               market_value: Decimal | None = None) -> LoanView:
    in_call = standing.status in ("margin_call", "liquidation", "default")
    return LoanView(
        loan_id, standing.status, ratio, value, loan.outstanding,
        None if value is None else valuation.drawing_power(loan.target_ltv, value,
                                                           loan.outstanding),
        standing.cure_deadline_s,
        ltv.cure_amount(loan.outstanding, loan.target_ltv, value)
        if in_call and value is not None else None,
        stale, unpriced, unverified_lots, market_value)


def value_per_item(state: MonitorState, registry: Registry, lot_id: str, loan: Loan,
                   fx_rates: Mapping[tuple[str, str], Decimal] | None = None) -> Decimal:
    """What one pledged item of the lot adds to the loan's collateral value now (0 if unpriced)."""
    lot = registry.lots[lot_id]
    commodity = registry.commodities[lot.commodity_id]
    mark = state.prices.get(commodity.id)
    track = state.lots.get(lot_id) or LotTrack()
    return item_value(lot, commodity, mark.accepted if mark else None, loan,
                      valuation.quality_factor(track.probe.exposure_degree_min, commodity), fx_rates)


def item_value(lot: Lot, commodity: Commodity, accepted: PriceTick | None, loan: Loan, quality: Decimal,
               fx_rates: Mapping[tuple[str, str], Decimal] | None = None) -> Decimal:
    """One item of the lot as the loan's collateral at the accepted price (0 if unpriced)."""
    if accepted is None or not lot.items:
        return Decimal(0)
    price = valuation.unit_price(accepted, commodity, loan.currency, fx_rates or {})
    return valuation.lot_value(lot.total_quantity / len(lot.items), price, loan.haircut, quality)


def release_refusal(state: MonitorState, registry: Registry, lot_id: str,
                    now_s: float) -> str | None:
    """Why no goods may leave the lot now (None: a release may be sized): the lot is
    unverified, its price is missing or stale, or a critical alert is open on it."""
    commodity = registry.commodities[registry.lots[lot_id].commodity_id]
    mark = state.prices.get(commodity.id)
    critical = {a.type for a in state.alerts.active.values() if a.lot == lot_id and a.severity == "critical"}
    return lot_refusal(lot_id, unverified_reason(state.unverified.get(lot_id)), commodity,
                       mark.accepted if mark else None, ", ".join(sorted(critical)) or None, now_s)


def unverified_reason(episode: unverified.Unverified | None) -> str | None:
    return None if episode is None else f"lot unverified: {episode.reason} since {int(episode.since_s)} s"


def lot_refusal(lot_id: str, unverified_since: str | None, commodity: Commodity, accepted: PriceTick | None,
                critical: str | None, now_s: float) -> str | None:
    """`release_refusal` from its parts (also of a lot view stored by the monitor, see
    lot_views.py): `unverified_since` as `unverified_reason` says it, the accepted price,
    the critical alert types open on the lot (", "-joined)."""
    if unverified_since is not None:
        return unverified_since
    if accepted is None:
        return f"no price for {commodity.id}"
    if valuation.price_is_stale(valuation.PriceMark(accepted), commodity, now_s):
        return f"price of {commodity.id} is stale ({int(now_s - accepted.at_s)} s old)"
    if critical:
        return f"critical alert open on {lot_id}: {critical}"
    return None


def observed_present(state: MonitorState, registry: Registry, lot_id: str) -> frozenset[str]:
    """The lot's pledged EPCs its reader sees now: the only ones a release may free."""
    view = state.lot_views.get(lot_id)
    if view is None or not view.rfid_ok:
        return frozenset()
    return registry.pledged_epcs[lot_id] - view.missing_epcs
