"""Issue 12: a stateful property test of the whole core under simulated devices.

Random books (1–3 steel lots, one loan each, random LTV), random sensor faults, gateway
outages, tamper and forged bursts, price gaps and moves, and thefts (items taken, goods
swapped for filler under intact tags). Invariants, checked after every simulated minute:

- no silent loss: goods that left beyond tolerance (no release covers them here) are, within
  one confirmation window (15 min), alerted as a loss on the lot or the lot is unverified,
  and then its loan's lending value follows the unverified schedule;
- no default is missed: a loan past its cure deadline is in default;
- a quiet book (nothing but noise) raises nothing.
"""
from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from pydantic import TypeAdapter

from backend.domain import monitor
from backend.domain.alerts import LOSS_TYPES
from backend.domain.observations import PriceTick
from backend.scenario import model as m
from backend.scenario import runner
from backend.scenario.world import build_world, monitor_config

WINDOW_S = 900                                 # one confirmation window, end to end
DURATIONS = st.sampled_from(["5m", "20m", "1h", "3h"])
EVENT = TypeAdapter(m.Event)


def _book(lots: int, ltv: float, seed: int, cure: str) -> m.Scenario:
    value = 40 * 12.5 * 4000 * 0.9
    return m.Scenario.model_validate({
        "name": "property", "seed": seed, "duration": "30d", "step": "1m",
        "lenders": [{"id": "bank-a"}, {"id": "bank-b"}], "borrowers": [{"id": "acme"}],
        "warehouses": [{"id": "wh-1", "gateway": "gw-1"}, {"id": "wh-2", "gateway": "gw-2"}],
        "commodities": [{"id": "steel_coil", "unit": "t"}],
        "lots": [{"id": f"lot-{n}", "warehouse": f"wh-{n % 2 + 1}", "commodity": "steel_coil",
                  "items": 40, "item_quantity": 12.5} for n in range(lots)],
        "loans": [{"id": f"loan-{n}", "lender": f"bank-{'ab'[n % 2]}", "borrower": "acme",
                   "outstanding": round(value * ltv), "currency": "CNY", "lots": [f"lot-{n}"],
                   "haircut": 0.1, "target_ltv": 0.6, "cure_period": cure,
                   "thresholds": {"warning": 0.7, "margin_call": 0.8, "liquidation": 0.9}}
                  for n in range(lots)],
        "prices": [{"commodity": "steel_coil", "currency": "CNY", "per": "t", "start": 4000}]})


class Book(RuleBasedStateMachine):
    @initialize(lots=st.integers(1, 3), ltv=st.floats(0.3, 0.65), seed=st.integers(0, 10**6),
                cure=st.sampled_from(["30m", "2h"]))
    def start(self, lots, ltv, seed, cure):
        scenario = _book(lots, ltv, seed, cure)
        registry, sim_lots, gateways = build_world(scenario)
        self.run = runner._Run(scenario, registry, sim_lots, gateways, [], {})
        for spec in scenario.loans:
            runner._pledge(self.run, 0, spec.lots[0], spec.id, booked=True)
        self.config = monitor_config(scenario)
        self.now_s, self.price, self.price_from_s = 0, Decimal(4000), 0
        self.disturbed = False
        self.loss_since: dict[str, int] = {}
        self.call_since: dict[str, int] = {}
        self._step()

    # -- the world -------------------------------------------------------------------------

    def _step(self):
        run, now_s = self.run, self.now_s
        messages = [msg for gateway in run.gateways.values() for msg in gateway.report(now_s)]
        ticks = (PriceTick("steel_coil", self.price, "CNY", "t", now_s),) \
            if now_s >= self.price_from_s else ()
        result = monitor.step(run.state, run.registry, messages, monitor.Market(ticks), now_s,
                              self.config, run.notices)
        run.notices, run.state = [], result.state
        runner._record(run, result.events, now_s)
        for lot_id, sim in run.lots.items():
            if lot_id not in self.loss_since and self._short(lot_id, sim):
                self.loss_since[lot_id] = now_s
        self.now_s += 60

    def _short(self, lot_id, sim) -> bool:
        gone = self.run.registry.pledged_epcs[lot_id] - sim.goods.items.keys()
        return bool(gone) or sim.goods.missing_fraction >= 0.02

    def _event(self, **fields):
        self.disturbed = True
        event = EVENT.validate_python({"at": f"{self.now_s}s", **fields})
        runner._apply(self.run, event, self.now_s)

    def _lots(self):
        return st.sampled_from(sorted(self.run.lots))

    # -- rules -----------------------------------------------------------------------------

    @rule(minutes=st.integers(1, 90))
    def wait(self, minutes):
        for _ in range(minutes):
            self._step()
            self.no_silent_loss()
            self.no_default_missed()

    @rule(data=st.data(), count=st.integers(1, 5))
    def take_items(self, data, count):
        self._event(type="remove_items", lot=data.draw(self._lots()), count=count)

    @rule(data=st.data(), fraction=st.floats(0.02, 0.5))
    def swap_for_filler(self, data, fraction):
        self._event(type="replace_contents", lot=data.draw(self._lots()), fraction=fraction)

    @rule(data=st.data(), sensor=st.sampled_from(["scale", "rfid"]),
          mode=st.sampled_from(["dead", "stuck", "drift"]), span=DURATIONS)
    def sensor_fault(self, data, sensor, mode, span):
        self._event(type="sensor_fault", lot=data.draw(self._lots()), sensor=sensor, mode=mode,
                    **{"for": span})

    @rule(gateway=st.sampled_from(["gw-1", "gw-2"]), span=DURATIONS)
    def outage(self, gateway, span):
        self._event(type="gateway_offline", gateway=gateway, **{"for": span})

    @rule(gateway=st.sampled_from(["gw-1", "gw-2"]), span=DURATIONS)
    def tamper(self, gateway, span):
        self._event(type="tamper", gateway=gateway, **{"for": span})

    @rule(gateway=st.sampled_from(["gw-1", "gw-2"]), span=DURATIONS, per_minute=st.integers(1, 5))
    def forged(self, gateway, span, per_minute):
        self._event(type="forged", gateway=gateway, per_minute=per_minute, **{"for": span})

    @rule(minutes=st.integers(30, 1500))
    def price_gap(self, minutes):
        self.disturbed = True
        self.price_from_s = self.now_s + minutes * 60

    @rule(factor=st.floats(0.78, 1.2))
    def price_move(self, factor):
        self.disturbed = True
        self.price = (self.price * Decimal(repr(round(factor, 3)))).quantize(Decimal(1))

    # -- invariants ------------------------------------------------------------------------

    def no_silent_loss(self):
        state, now_s = self.run.state, self.now_s - 60
        for lot_id, since_s in self.loss_since.items():
            if now_s - since_s < WINDOW_S:
                continue
            alerted = any(a.lot == lot_id and a.type in LOSS_TYPES
                          and (a.opened_at_s >= since_s or a.state != "resolved")
                          for a in self.run.alerts.values())
            unverified = lot_id in state.unverified
            assert alerted or unverified, f"{lot_id}: short since {since_s} s, silent at {now_s} s"
            if unverified:
                loan_id = self.run.registry.loan_of_lot[lot_id]
                assert lot_id in state.loan_views[loan_id].unverified_lots

    def no_default_missed(self):
        """A call never brought back to the target LTV defaults at its first deadline."""
        now_s, registry = self.now_s - 60, self.run.registry
        for loan_id, view in self.run.state.loan_views.items():
            loan = registry.loans[loan_id]
            if view.status in ("margin_call", "liquidation"):
                self.call_since.setdefault(loan_id, now_s)
            if view.ltv is not None and view.ltv <= loan.target_ltv:
                self.call_since.pop(loan_id, None)
            since_s = self.call_since.get(loan_id)
            if since_s is not None and now_s >= since_s + loan.cure_period_s:
                assert view.status == "default", f"{loan_id}: in call since {since_s} s"

    def teardown(self):
        if hasattr(self, "run"):
            self.wait(20)                      # what happened last gets its window too

    @precondition(lambda self: hasattr(self, "run") and not self.disturbed)
    @invariant()
    def a_quiet_book_raises_nothing(self):
        assert self.run.alerts == {}


Book.TestCase.settings = settings(max_examples=300, stateful_step_count=25, deadline=None,
                                  suppress_health_check=[HealthCheck.too_slow])
TestNoSilentLoss = Book.TestCase
