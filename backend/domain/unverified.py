"""The rule of unverified collateral.

A lot is *verified* while the witnesses that apply to it are live, signed and agree: its
gateway delivers trusted messages, its RFID reader and scale are usable, the scale does not
read above what every item of the lot can weigh, and a perishable lot has temperature data.
When one fails the lot is unverified from that moment (its `collateral_unverified` alert
opens once that has lasted one confirmation window, one per episode). Its lending value
keeps full value for a grace period, then falls linearly to 0 (`UnverifiedSchedule`, per
loan, per commodity, or the monitor's default: 1 h grace, 0 after 24 h).

A scale seen drifting (reading above the lot) stays untrusted until a physical inspection:
drift can as well hide goods that left later. A scale reading *below* count × item weight is
a loss (`weight_count_mismatch`), not a gap: the lower weight is valued at once.
When the witnesses return the lot stays unverified for one more confirmation window of good
readings: what they show is compared with the pledge meanwhile, so a loss hidden by the
blind period is alerted (by the usual rules, within that window) before the lot counts as
verified again, and the lot is never both verified and silently short. Loss alerts during
that window and the next carry the blind period (`blind_from_s`, `blind_to_s`).
"""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Mapping, NamedTuple

from backend.domain.alerts import LOSS_TYPES, Condition
from backend.domain.config import MonitorConfig
from backend.domain.gateways import GatewayTrack
from backend.domain.registry import Commodity, Loan, UnverifiedSchedule
from backend.domain.sensors import (
    ProbeTrack,
    RfidTrack,
    ScaleTrack,
    probe_usable,
    rfid_usable,
    scale_stuck,
    scale_usable,
)
from backend.domain.stock import LotView

DRIFT = "scale drifting"
_SHARE_STEP = Decimal("0.0001")


class Unverified(NamedTuple):
    since_s: float                             # when the first witness failed
    reason: str                                # what failed first
    drifted: bool = False                      # trusted again only after an inspection
    back_s: float | None = None                # witnesses good again since then (on probation)


def witness_failure(view: LotView, rfid: RfidTrack, scale: ScaleTrack, probe: ProbeTrack,
                    gateway: GatewayTrack, perishable: bool, now_s: float, config: MonitorConfig,
                    in_episode: bool = False) -> str | None:
    """Why the lot cannot be verified now, or None. A reader back after a gap (`in_episode`)
    is a witness again once its read window is full; a new one, from its first round."""
    if gateway.last_good_s is None or now_s - gateway.last_good_s >= config.stale_after_s:
        bad_s = gateway.last_bad_signature_s
        return ("signatures failing" if bad_s is not None and now_s - bad_s < config.silent_after_s
                else "gateway offline")
    if rfid.fresh_s is None or now_s - rfid.fresh_s > config.stale_after_s or (
            in_episode and not rfid_usable(rfid, now_s, config)):
        return "rfid stuck" if rfid.repeats + 1 >= config.stuck_after_readings else "rfid dead"
    if not scale_usable(scale, now_s, config):
        return "scale stuck" if scale_stuck(scale, config) else "scale dead"
    if _repeating(scale, config):
        return "scale repeating"
    if view.weight_net_kg is not None and view.weight_net_kg > view.max_weight_kg:
        return DRIFT
    if perishable and not probe_usable(probe, now_s, config):
        return "no temperature data"
    return None


def _repeating(scale: ScaleTrack, config: MonitorConfig) -> bool:
    """Three identical readings from a scale whose noise spans a hundred resolution steps
    (odds below 1e-7): stuck, long before `stuck_after_readings` can say so for every scale.
    It only makes the lot unverified; the sensor_fault waits for the usual count."""
    if scale.repeats < 2:
        return False
    noise_kg = scale.weights_kg[-1] * config.scale_error_fraction / 4
    return noise_kg >= 100 * config.scale_resolution_kg


def probation_s(config: MonitorConfig) -> float:
    """Good readings needed after a gap: the scale's window turned over, then one
    confirmation window (so a loss they show is alerted before the lot counts as verified)."""
    return config.confirmation_s + (config.weight_window_readings - 1) * config.reporting_period_s


def next_episode(previous: Unverified | None, failure: str | None, now_s: float,
                 probation_s: float) -> Unverified | None:
    if failure is None:
        if previous is None or previous.drifted:
            return previous
        if previous.back_s is None:
            return previous._replace(back_s=now_s)
        return None if now_s - previous.back_s >= probation_s else previous
    if previous is None:
        return Unverified(now_s, failure, failure == DRIFT)
    if previous.back_s is not None or (failure == DRIFT and not previous.drifted):
        return previous._replace(drifted=previous.drifted or failure == DRIFT, back_s=None)
    return previous


def blind_period(episode: Unverified | None,
                 ended: tuple[float, float] | None) -> tuple[float, float] | None:
    """The lot's blind period a loss found now belongs to: the one it is on probation after,
    else the last one that ended."""
    if episode is not None and episode.back_s is not None:
        return episode.since_s, episode.back_s
    return ended


def schedule_of(loan: Loan, commodity: Commodity, config: MonitorConfig) -> UnverifiedSchedule:
    return (loan.unverified or commodity.unverified
            or UnverifiedSchedule(config.unverified_grace_s, config.unverified_zero_after_s))


def lending_share(episode: Unverified, schedule: UnverifiedSchedule, now_s: float) -> Decimal:
    """The share of its value an unverified lot still lends on."""
    elapsed_s = int(now_s - episode.since_s)
    if elapsed_s <= schedule.grace_s:
        return Decimal(1)
    if elapsed_s >= schedule.zero_after_s:
        return Decimal(0)
    falling_s = schedule.zero_after_s - schedule.grace_s
    return (1 - Decimal(elapsed_s - schedule.grace_s) / falling_s).quantize(_SHARE_STEP)


def with_blind_period(conditions: list[Condition], blind: tuple[float, float] | None,
                      now_s: float, config: MonitorConfig) -> list[Condition]:
    """Loss conditions found soon after a blind period say which period it was."""
    if blind is None or now_s - blind[1] > 2 * config.confirmation_s:
        return conditions
    period = {"blind_from_s": int(blind[0]), "blind_to_s": int(blind[1])}
    return [replace(c, details={**c.details, **period}) if c.type in LOSS_TYPES else c
            for c in conditions]


def unverified_condition(lot_id: str, episode: Unverified, loan_id: str, lender_id: str | None,
                         gateway_id: str) -> Condition:
    return Condition("collateral_unverified", lot_id, loan=loan_id, lot=lot_id, lender=lender_id,
                     gateway=gateway_id, details={"reason": episode.reason,
                                                  "since_s": int(episode.since_s)})


def episodes_of(loan: Loan, episodes: Mapping[str, Unverified]) -> tuple[str, ...]:
    return tuple(lot_id for lot_id in loan.lot_ids if lot_id in episodes)
