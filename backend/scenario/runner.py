"""Run a scenario in simulated time, as fast as the machine allows, through the domain core.

Each step: apply the events that are due, let every gateway report (or buffer, or send
forged messages), tick the price feeds, and call `monitor.step`. Transports are skipped;
the gateway outbox and the signature verdict are simulated in `devices.py`.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal

from backend.domain import borrowing_base, delivery, monitor, pledges
from backend.domain import money as money_rules
from backend.domain.alerts import Alert, AlertOpened, AlertResolved, Condition
from backend.domain.errors import RegistryError
from backend.domain.inspections import Inspection, InspectionOverdue, InspectionRecorded
from backend.domain.observations import PriceTick
from backend.domain.registry import DeliveryOrder, Registry, ReleaseOrder, Repayment
from backend.domain.releases import choose_epcs, decide_release
from backend.scenario import model as m
from backend.scenario.devices import SimGateway, SimLot
from backend.scenario.errors import ScenarioFileError
from backend.scenario.references import problems
from backend.scenario.world import build_world, monitor_config
from firmware_sim.models import Fault


@dataclass
class TimelineEntry:
    at_s: float
    text: str


@dataclass(frozen=True)
class Action:
    """A pledge, release, repayment or inspection, and what became of it."""
    at_s: int
    type: str
    loan: str | None
    lot: str | None
    outcome: str                               # approved | refused | recorded
    reason: str | None


@dataclass
class ScenarioResult:
    scenario: m.Scenario
    alerts: dict[str, Alert]                   # by id, in order of opening
    state: monitor.MonitorState
    registry: Registry
    timeline: list[TimelineEntry]
    actions: list[Action] = field(default_factory=list)


@dataclass
class _PriceFeed:
    spec: m.PriceSpec
    stopped: bool = False

    def price_at(self, now_s: float) -> Decimal:
        price = self.spec.start
        for move in sorted(self.spec.moves, key=lambda mv: mv.at):
            if move.at <= now_s:
                price = move.to
        return price


@dataclass
class _Run:
    scenario: m.Scenario
    registry: Registry
    lots: dict[str, SimLot]
    gateways: dict[str, SimGateway]
    feeds: list[_PriceFeed]
    fx: dict
    state: monitor.MonitorState = field(default_factory=monitor.MonitorState)
    notices: list[Condition] = field(default_factory=list)
    counts: list[Inspection] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    alerts: dict[str, Alert] = field(default_factory=dict)
    pending_repayments: list[Repayment] = field(default_factory=list)  # entered, not confirmed
    pending_releases: list[tuple[m.RequestRelease, str, int]] = field(default_factory=list)  # (request, by, at_s)

    def note(self, now_s: float, text: str) -> None:
        self.timeline.append(TimelineEntry(now_s, text))

    def act(self, now_s: float, kind: str, loan: str | None, lot: str | None, outcome: str,
            reason: str | None = None) -> None:
        self.actions.append(Action(int(now_s), kind, loan, lot, outcome, reason))


def check(scenario: m.Scenario, root, path: str) -> None:
    for loc, message in problems(scenario):
        raise m.file_error(path, root, loc, message)


def run_scenario(scenario: m.Scenario) -> ScenarioResult:
    registry, lots, gateways = build_world(scenario)
    fx = {(x.from_, x.to): x.rate for x in scenario.fx}
    run = _Run(scenario, registry, lots, gateways, [_PriceFeed(p) for p in scenario.prices], fx)
    for spec in scenario.loans:
        for lot_id in spec.lots:
            _pledge(run, 0, lot_id, spec.id, booked=True)
    config = monitor_config(scenario)
    events = sorted(enumerate(scenario.events), key=lambda pair: (pair[1].at, pair[0]))
    due = 0
    with _few_collections():
        for now_s in range(0, scenario.duration + 1, scenario.step):
            while due < len(events) and events[due][1].at <= now_s:
                _apply(run, events[due][1], now_s)
                due += 1
            _post_interest(run, now_s)
            messages = [msg for gateway in gateways.values() for msg in gateway.report(now_s)]
            ticks = tuple(PriceTick(f.spec.commodity, f.price_at(now_s), f.spec.currency,
                                    f.spec.per, now_s) for f in run.feeds if not f.stopped)
            result = monitor.step(run.state, run.registry, messages,
                                  monitor.Market(ticks, fx), now_s, config, run.notices, run.counts)
            run.notices, run.counts = [], []
            run.state = result.state
            _record(run, result.events, now_s)
    return ScenarioResult(scenario, run.alerts, run.state, run.registry, run.timeline, run.actions)


@contextmanager
def _few_collections():
    """A run makes millions of short-lived objects that reference counting frees; run at its
    default pace, the cyclic collector took about a tenth of the run time walking them."""
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _record(run: _Run, events, now_s: float) -> None:
    for event in events:
        if isinstance(event, AlertOpened):
            run.alerts[event.alert.id] = event.alert
            run.note(now_s, f"ALERT   {event.alert.type} ({event.alert.severity}) "
                            f"{_about(event.alert)}")
        elif isinstance(event, AlertResolved):
            run.alerts[event.alert.id] = event.alert
            run.note(now_s, f"RESOLVE {event.alert.type} {_about(event.alert)}")
        elif isinstance(event, InspectionRecorded):
            run.note(now_s, f"INSPECT {event.inspection.lot_id}: {event.reason}")
            run.act(now_s, "inspection", event.loan_id, event.inspection.lot_id, "recorded",
                    event.reason)
        elif isinstance(event, InspectionOverdue):
            run.note(now_s, f"OVERDUE inspection of {event.task.lot_id} "
                            f"(due at {event.task.deadline_s} s: {', '.join(event.task.reasons)})")
        elif isinstance(event, delivery.DeliveryClosed):
            _close_delivery(run, event, now_s)
        elif isinstance(event, monitor.LoanStatusChanged):
            ltv = "n/a" if event.ltv is None or not event.ltv.is_finite() else f"{event.ltv:.4f}"
            run.note(now_s, f"LOAN    {event.loan_id}: {event.previous} → {event.status} (LTV {ltv})")


def _about(alert: Alert) -> str:
    parts = [f"{k}={v}" for k, v in (("loan", alert.loan), ("lot", alert.lot),
                                      ("gateway", alert.gateway)) if v]
    parts += [f"{k}={v}" for k, v in alert.details.items()]
    return " ".join(parts)


def _pledge(run: _Run, now_s: float, lot_id: str, loan_id: str, booked: bool = False) -> None:
    """`booked`: the book's own pledges at the start (no action of anyone's)."""
    outcome = pledges.pledge_lot(run.registry, lot_id, loan_id)
    run.registry = outcome.registry
    if outcome.refused_reason:
        run.notices.append(outcome.notice)
        run.note(now_s, f"PLEDGE  {lot_id} to {loan_id} refused: {outcome.refused_reason}")
    elif not booked:
        run.note(now_s, f"PLEDGE  {lot_id} to {loan_id} recorded")
    if not booked:
        run.act(now_s, "pledge", loan_id, lot_id, "refused" if outcome.refused_reason else "approved",
                outcome.refused_reason)


def _apply(run: _Run, event, now_s: float) -> None:
    handler = _HANDLERS[type(event)]
    handler(run, event, now_s)


def _remove_items(run: _Run, event: m.RemoveItems, now_s: float) -> None:
    lot = run.lots[event.lot]
    if event.epcs is None:
        gone = lot.goods.remove(event.count or 0)
    else:
        gone = lot.goods.take(event.epcs)
    lot.reader.changed()
    run.note(now_s, f"EVENT   {len(gone)} items leave {event.lot}")


def _release(run: _Run, event: m.Release, now_s: float) -> None:
    loan_id = run.registry.loan_of_lot.get(event.lot)
    reason = _release_refusal(run, event, loan_id) or monitor.release_refusal(
        run.state, run.registry, event.lot, now_s)
    present = monitor.observed_present(run.state, run.registry, event.lot)
    if reason is None and event.items > len(present):
        reason = f"only {len(present)} pledged items are observed present"
    if reason is None:
        loan = run.registry.loans[loan_id]
        view = run.state.loan_views.get(loan_id)
        value = view.collateral_value if view and view.collateral_value is not None else Decimal(0)
        per_item = monitor.value_per_item(run.state, run.registry, event.lot, loan, run.fx)
        decision = decide_release(event.items, per_item, loan.outstanding, event.repayment,
                                  value, loan.target_ltv)
        reason = None if decision.approved else decision.reason
    if reason is not None:
        run.note(now_s, f"RELEASE {event.items} items of {event.lot} refused: {reason}")
        run.act(now_s, "release", loan_id, event.lot, "refused", reason)
        return
    # Only EPCs observed present; of those, the goods the borrower will take next
    # (Lot.remove takes the highest EPCs first).
    epcs = frozenset([e for e in sorted(run.lots[event.lot].goods.items) if e in present][-event.items:])
    order = ReleaseOrder(f"release-{event.lot}-{int(now_s)}", loan_id, event.lot, epcs,
                         event.approved_by, event.repayment, int(now_s))
    run.registry = pledges.apply_release(run.registry, order)
    run.act(now_s, "release", loan_id, event.lot, "approved")
    run.note(now_s, f"RELEASE {len(epcs)} items of {event.lot} approved by {event.approved_by} "
                    f"against {event.repayment}")


def _release_refusal(run: _Run, event: m.Release, loan_id: str | None) -> str | None:
    if loan_id is None:
        return "the lot backs no active loan"
    if run.registry.loans[loan_id].lender_id != event.approved_by:
        return f"{event.approved_by} is not the lender of {loan_id}"
    if event.items > len(run.registry.pledged_epcs[event.lot]):
        return "more items than are pledged"
    return None


def _request_release(run: _Run, event: m.RequestRelease, now_s: float) -> None:
    """Recorded, pending the lender's approval; refused when no loan holds the lot or a lender asks."""
    loan_id = run.registry.loan_of_lot.get(event.lot)
    by = event.by or (run.registry.loans[loan_id].borrower_id if loan_id else "")
    refusal = ("the lot backs no active loan" if loan_id is None
               else f"{by} is a lender: a lender approves releases, it does not ask for them"
               if by in run.registry.lenders else None)
    what = f"{len(event.epcs)} named items" if event.epcs else f"{event.items} items"
    if refusal is None:
        run.pending_releases.append((event, by, int(now_s)))
    run.note(now_s, f"RELEASE {what} of {event.lot} requested by {by}: " + (refusal or "pending"))
    run.act(now_s, "request_release", loan_id, event.lot, "refused" if refusal else "recorded",
            refusal or f"requested by {by}")


def _approve_release(run: _Run, event: m.ApproveRelease, now_s: float) -> None:
    """The loan's oldest pending request: a delivery order for the EPCs chosen, or refused."""
    pending = next(((r, by, at) for r, by, at in run.pending_releases
                    if run.registry.loan_of_lot.get(r.lot) == event.loan), None)
    approver = event.by or run.registry.loans[event.loan].lender_id
    refusal = _decider_refusal(run, event.loan, approver) or ("no pending release request" if pending is None
                                                              else None)
    lot_id = pending[0].lot if pending else None
    if pending is not None:
        run.pending_releases.remove(pending)
        if refusal is None:
            refusal = _issue_delivery(run, event, pending[0], approver, now_s)
    _money_act(run, now_s, "approve_release", event.loan, lot_id, refusal,
               f"of {lot_id} on {event.loan} by {approver}")


def _issue_delivery(run: _Run, event: m.ApproveRelease, request: m.RequestRelease, approver: str,
                    now_s: float) -> str | None:
    """The guards of a release, then a delivery order in the registry; the refusal or None."""
    lot_id, loan = request.lot, run.registry.loans[event.loan]
    refusal = monitor.release_refusal(run.state, run.registry, lot_id, now_s)
    if refusal is not None:
        return refusal
    available = monitor.observed_present(run.state, run.registry, lot_id) - delivery.claimed(run.registry, lot_id)
    epcs, refusal = choose_epcs(lot_id, available, request.items,
                                frozenset(request.epcs) if request.epcs else None)
    if refusal is not None:
        return refusal
    view = run.state.loan_views.get(loan.id)
    value = view.collateral_value if view and view.collateral_value is not None else Decimal(0)
    per_item = lambda lot: monitor.value_per_item(run.state, run.registry, lot, loan, run.fx)  # noqa: E731
    decision = decide_release(len(epcs), per_item(lot_id), loan.outstanding, Decimal(0),
                              value - delivery.reserved_value(run.registry, loan.id, per_item), loan.target_ltv)
    if not decision.approved:
        return decision.reason
    order = DeliveryOrder(f"do-{lot_id}-{int(now_s)}", loan.id, lot_id, epcs, now_s, now_s + event.valid_for)
    run.registry = replace(run.registry, delivery_orders=run.registry.delivery_orders + (order,))
    run.note(now_s, f"DO      {order.id}: {len(epcs)} items of {lot_id} may leave until {int(order.valid_until_s)} s")
    return None


def _close_delivery(run: _Run, event: delivery.DeliveryClosed, now_s: float) -> None:
    order = event.order
    run.registry = delivery.close(run.registry, event, "delivery order")
    reason = (f"fulfilled: {len(event.left)} items left" if event.outcome == delivery.FULFILLED
              else f"expired: {len(event.left)} items left, {len(event.remaining)} pledged again")
    run.note(now_s, f"DO      {order.id} {reason}")
    run.act(now_s, "delivery_order", order.loan_id, order.lot_id, "recorded", reason)


def _repay(run: _Run, event: m.Repay, now_s: float) -> None:
    """The lender's repayment (the default) takes effect at once; anyone else's waits."""
    repayment = Repayment(event.loan, event.amount, int(now_s))
    if run.registry.loans[event.loan].closed_at_s is not None:
        run.note(now_s, f"REPAY   {event.amount} on {event.loan} refused: {pledges.LOAN_CLOSED}")
        run.act(now_s, "repayment", event.loan, None, "refused", pledges.LOAN_CLOSED)
    elif event.by is None or event.by == run.registry.loans[event.loan].lender_id:
        run.registry = pledges.apply_repayment(run.registry, repayment)
        run.note(now_s, f"REPAY   {event.amount} on {event.loan}")
        run.act(now_s, "repayment", event.loan, None, "recorded")
    else:
        run.pending_repayments.append(repayment)
        run.note(now_s, f"REPAY   {event.amount} on {event.loan} entered by {event.by}: pending")
        run.act(now_s, "repayment", event.loan, None, "pending", f"entered by {event.by}")


def _decider_refusal(run: _Run, loan_id: str, by: str | None) -> str | None:
    lender = run.registry.loans[loan_id].lender_id
    return None if by is None or by == lender else f"{by} is not the lender of {loan_id}"


def _money_act(run: _Run, now_s: float, kind: str, loan_id: str, lot: str | None, refusal: str | None,
               what: str) -> None:
    """Note and record an approved or refused step of the money side."""
    run.note(now_s, f"{kind.upper()} {what} " + ("approved" if refusal is None else f"refused: {refusal}"))
    run.act(now_s, kind, loan_id, lot, "approved" if refusal is None else "refused", refusal)


def _confirm_repayment(run: _Run, event: m.ConfirmRepayment, now_s: float) -> None:
    pending = next((r for r in run.pending_repayments if r.loan_id == event.loan), None)
    refusal = _decider_refusal(run, event.loan, event.by) or (
        "no pending repayment" if pending is None else None)
    if refusal is None and pending is not None:
        run.pending_repayments.remove(pending)
        run.registry = pledges.apply_repayment(run.registry, Repayment(event.loan, pending.amount, int(now_s)))
    _money_act(run, now_s, "confirm_repayment", event.loan, None, refusal,
               f"{pending.amount if pending else ''} on {event.loan}")


def _substitute(run: _Run, event: m.Substitute, now_s: float) -> None:
    refusal = _decider_refusal(run, event.loan, event.by)
    outcome = None
    if refusal is None:
        try:
            outcome = pledges.substitute(run.registry, event.loan, event.release_lot, event.pledge_lot)
            refusal = outcome.refused_reason
        except RegistryError as exc:
            refusal = str(exc)
    if refusal is None:
        refusal = borrowing_base.substitution_refusal(run.state, run.registry, event.loan, event.release_lot,
                                                      event.pledge_lot, now_s, run.fx)
    if outcome is not None and outcome.notice is not None:
        run.notices.append(outcome.notice)
    if refusal is None and outcome is not None:
        run.registry = outcome.registry
    _money_act(run, now_s, "substitution", event.loan, event.pledge_lot, refusal,
               f"{event.pledge_lot} for {event.release_lot} on {event.loan}")


def _drawdown(run: _Run, event: m.Drawdown, now_s: float) -> None:
    loan = run.registry.loans[event.loan]
    view = run.state.loan_views.get(event.loan)
    decision = money_rules.drawdown_decision(loan, event.amount, view.collateral_value if view else None,
                                             view.price_stale if view else False)
    refusal = _decider_refusal(run, event.loan, event.by) or (None if decision.approved else decision.reason)
    if refusal is None:
        run.registry = pledges.set_outstanding(run.registry, event.loan, loan.outstanding + event.amount)
    _money_act(run, now_s, "drawdown", event.loan, None, refusal, f"{event.amount} on {event.loan}")


def _close_loan(run: _Run, event: m.CloseLoan, now_s: float) -> None:
    refusal = _decider_refusal(run, event.loan, event.by) or money_rules.close_refusal(run.registry.loans[event.loan])
    if refusal is None:
        run.registry = pledges.close_loan(run.registry, event.loan, now_s)
    _money_act(run, now_s, "close_loan", event.loan, None, refusal, event.loan)


def _post_interest(run: _Run, now_s: float) -> None:
    """Each loan with interest accrues from the start; a whole day's interest is posted as it completes."""
    for loan in run.registry.loans.values():
        if loan.interest is None:
            continue
        if loan.interest_accrued_to_s is None:
            run.registry = pledges.set_outstanding(run.registry, loan.id, loan.outstanding, now_s)
            continue
        posting = money_rules.interest_due(loan, now_s)
        if posting is not None:
            run.registry = pledges.set_outstanding(run.registry, loan.id, loan.outstanding + posting.amount,
                                                   posting.to_s)
            run.note(now_s, f"INTEREST {posting.amount} on {loan.id} for {posting.days} day(s)")


def _replace_contents(run: _Run, event: m.ReplaceContents, now_s: float) -> None:
    goods = run.lots[event.lot].goods
    goods.missing_fraction = 1 - (1 - goods.missing_fraction) * (1 - event.fraction)
    run.note(now_s, f"EVENT   {event.fraction:.0%} of {event.lot}'s weight replaced by nothing")


def _sensor_fault(run: _Run, event: m.SensorFault, now_s: float) -> None:
    lot = run.lots[event.lot]
    fault = Fault(event.mode, now_s, now_s + event.for_)
    device = {"scale": lot.scale, "temperature": lot.probe}.get(event.sensor)
    if device is None:
        lot.reader.faults.append(fault)
    else:
        device.inject(fault)
    run.note(now_s, f"EVENT   {event.lot} {event.sensor} {event.mode} for {event.for_}s")


def _gateway_offline(run: _Run, event: m.GatewayOffline, now_s: float) -> None:
    run.gateways[event.gateway].offline.append((now_s, now_s + event.for_))
    run.note(now_s, f"EVENT   {event.gateway} offline for {event.for_}s")


def _pledge_event(run: _Run, event: m.Pledge, now_s: float) -> None:
    _pledge(run, now_s, event.lot, event.loan)


def _temperature(run: _Run, event: m.Temperature, now_s: float) -> None:
    run.lots[event.lot].excursions.append((now_s, now_s + event.for_, event.to_c))
    run.note(now_s, f"EVENT   {event.lot} held at {event.to_c} °C for {event.for_}s")


def _price_feed_stop(run: _Run, event: m.PriceFeedStop, now_s: float) -> None:
    for feed in run.feeds:
        if feed.spec.commodity == event.commodity:
            feed.stopped = True
    run.note(now_s, f"EVENT   price feed for {event.commodity} stops")


def _clone_tags(run: _Run, event: m.CloneTags, now_s: float) -> None:
    source = run.lots[event.lot].goods
    target = next(lot for lot in run.gateways[_gateway(run, event.warehouse)].lots
                  if lot.lot_id != event.lot)             # another lot's reader reads them
    target.reader.extra_epcs.update(sorted(source.items)[:event.count])
    target.reader.changed()
    run.note(now_s, f"EVENT   {event.count} EPCs of {event.lot} cloned at {event.warehouse}")


def _gateway(run: _Run, warehouse_id: str) -> str:
    return run.registry.warehouses[warehouse_id].gateway_id


def _tamper(run: _Run, event: m.Tamper, now_s: float) -> None:
    run.gateways[event.gateway].tampered.append((now_s, now_s + event.for_))
    run.note(now_s, f"EVENT   {event.gateway} messages forged for {event.for_}s")


def _forged(run: _Run, event: m.Forged, now_s: float) -> None:
    per_report = max(1, round(event.per_minute * run.scenario.step / 60))
    run.gateways[event.gateway].forged.append((now_s, now_s + event.for_, per_report))
    run.note(now_s, f"EVENT   {event.per_minute} forged messages a minute beside {event.gateway}'s "
                    f"for {event.for_}s")


def _inspection(run: _Run, event: m.InspectionEvent, now_s: float) -> None:
    """Recorded (timeline and action) when the monitor has judged it, in this step."""
    run.counts.append(Inspection(event.lot, event.items, event.quantity, now_s,
                                 event.temperature_c, event.note))


def _clock_skew(run: _Run, event: m.ClockSkew, now_s: float) -> None:
    run.gateways[event.gateway].skews.append((now_s, now_s + event.for_, event.offset))
    run.note(now_s, f"EVENT   {event.gateway} clock off by {event.offset}s for {event.for_}s")


_HANDLERS = {
    m.RemoveItems: _remove_items, m.Release: _release, m.Repay: _repay,
    m.ReplaceContents: _replace_contents, m.SensorFault: _sensor_fault,
    m.GatewayOffline: _gateway_offline, m.Pledge: _pledge_event, m.Temperature: _temperature,
    m.PriceFeedStop: _price_feed_stop, m.CloneTags: _clone_tags, m.Tamper: _tamper, m.Forged: _forged,
    m.InspectionEvent: _inspection,
    m.ClockSkew: _clock_skew,
    m.ConfirmRepayment: _confirm_repayment, m.Substitute: _substitute, m.Drawdown: _drawdown,
    m.CloseLoan: _close_loan, m.RequestRelease: _request_release, m.ApproveRelease: _approve_release,
}


def run_file(path: str) -> ScenarioResult:
    """Load, check and run a scenario file; raises ScenarioFileError on a bad file."""
    scenario, root = m.load_scenario(path)
    check(scenario, root, path)
    return run_scenario(scenario)


__all__ = ["ScenarioFileError", "ScenarioResult", "run_file", "run_scenario"]
