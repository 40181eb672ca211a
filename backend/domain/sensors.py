"""Per-lot sensor tracks: the recent readings the monitor keeps, and sensor health.

A track only changes when its sensor reports. Health is judged relative to the gateway:
a sensor is *dead* only when its gateway delivers trusted messages without it, and *stuck*
when it repeats the very same reading (or the same RFID round) many times in a row.

Tracks are NamedTuples: immutable values like the core's frozen dataclasses, but several
times cheaper to build, and every lot's tracks are rebuilt at every step.
"""
from __future__ import annotations

from typing import NamedTuple

from backend.domain.alerts import Condition
from backend.domain.config import MonitorConfig
from backend.domain.gateways import GatewayTrack, is_healthy
from backend.domain.observations import LotSample, RfidRound
from backend.domain.registry import Commodity, Lot

# Builds a track from a full tuple of its fields, without the NamedTuple's Python-level
# __new__: three tracks per lot per step.
_new = tuple.__new__


class RfidTrack(NamedTuple):
    rounds: tuple[RfidRound, ...] = ()         # the last distinct rounds, oldest first
    heard_s: float | None = None               # receipt time of the last report
    fresh_s: float | None = None               # receipt time of the last *new* round
    repeats: int = 0                           # consecutive reports of the same round


class ScaleTrack(NamedTuple):
    weights_kg: tuple[float, ...] = ()         # the last readings, oldest first
    heard_s: float | None = None
    repeats: int = 0


class ProbeTrack(NamedTuple):
    temperature_c: float | None = None
    at_s: float | None = None                  # device time of the last reading
    heard_s: float | None = None
    repeats: int = 0
    exposure_degree_min: float = 0.0           # accumulated above the commodity's limit


def track_rfid(track: RfidTrack, sample: LotSample, now_s: float,
               config: MonitorConfig) -> RfidTrack:
    reading = sample.rfid
    if reading is None:
        return track
    rounds = track.rounds
    # The same round again (the timestamps first: comparing two sets of EPCs costs more).
    if rounds and (reading is rounds[-1] or (reading.round_at_s == rounds[-1].round_at_s
                                             and reading == rounds[-1])):
        return _new(RfidTrack, (rounds, now_s, track.fresh_s, track.repeats + 1))
    if track.fresh_s is not None and now_s - track.fresh_s > config.stale_after_s:
        rounds = ()                            # back after a gap: old rounds say nothing now
    rounds = (rounds + (reading,))[-config.read_window_rounds:]
    return _new(RfidTrack, (rounds, now_s, now_s, 0))


def track_scale(track: ScaleTrack, sample: LotSample, now_s: float,
                config: MonitorConfig) -> ScaleTrack:
    weight_kg = sample.weight_kg
    if weight_kg is None:
        return track
    weights = track.weights_kg
    if track.heard_s is not None and now_s - track.heard_s > config.stale_after_s:
        weights = ()                           # back after a gap: old weights say nothing now
    same = bool(weights) and weights[-1] == weight_kg
    weights = (weights + (weight_kg,))[-config.weight_window_readings:]
    return _new(ScaleTrack, (weights, now_s, track.repeats + 1 if same else 0))


def track_probe(track: ProbeTrack, sample: LotSample, commodity: Commodity, now_s: float,
                config: MonitorConfig) -> ProbeTrack:
    temperature_c = sample.temperature_c
    if temperature_c is None:
        return track
    exposure = track.exposure_degree_min
    limit_c = commodity.temperature_max_c
    if commodity.perishable and limit_c is not None and track.at_s is not None:
        gap_s = sample.at_s - track.at_s
        if 0 < gap_s <= config.max_exposure_gap_s:
            exposure += max(0.0, temperature_c - limit_c) * gap_s / 60.0
    same = track.temperature_c == temperature_c
    return _new(ProbeTrack, (temperature_c, sample.at_s, now_s,
                             track.repeats + 1 if same else 0, exposure))


def rfid_usable(track: RfidTrack, now_s: float, config: MonitorConfig) -> bool:
    """Fresh, over a whole read window: one round may miss a present tag."""
    return (track.fresh_s is not None and now_s - track.fresh_s <= config.stale_after_s
            and len(track.rounds) >= config.read_window_rounds)


def scale_usable(track: ScaleTrack, now_s: float, config: MonitorConfig) -> bool:
    return (track.heard_s is not None and now_s - track.heard_s <= config.stale_after_s
            and not scale_stuck(track, config))


def probe_usable(track: ProbeTrack, now_s: float, config: MonitorConfig) -> bool:
    return (track.heard_s is not None and now_s - track.heard_s <= config.stale_after_s
            and track.repeats + 1 < config.stuck_after_readings)


def scale_stuck(track: ScaleTrack, config: MonitorConfig) -> bool:
    """Repeats mean something only when the scale's noise is well above its resolution."""
    if track.repeats + 1 < config.stuck_after_readings or not track.weights_kg:
        return False
    noise_kg = track.weights_kg[-1] * config.scale_error_fraction / 4
    return noise_kg >= 5 * config.scale_resolution_kg


def _fault(lot: Lot, sensor_id: str, gateway_id: str, kind: str, mode: str,
           loan_id: str | None, lender_id: str | None) -> Condition:
    """Addressed to the bank whose collateral the sensor watches: its monitoring failed."""
    return Condition("sensor_fault", sensor_id, loan=loan_id, lot=lot.id, lender=lender_id, gateway=gateway_id,
                     details={"sensor": kind, "mode": mode})


def _lively(heard_s: float | None, repeats: int, now_s: float, silent_s: float,
            stuck_after: int) -> bool:
    """Heard lately and not repeating: neither dead nor stuck, whatever the gateway did."""
    return heard_s is not None and now_s - heard_s < silent_s and repeats + 1 < stuck_after


def sensor_conditions(lot: Lot, rfid: RfidTrack, scale: ScaleTrack, probe: ProbeTrack,
                      gateway_id: str, gateway: GatewayTrack, now_s: float,
                      config: MonitorConfig, loan_id: str | None = None,
                      lender_id: str | None = None) -> list[Condition]:
    """Dead and stuck sensors of one lot (an over-reading scale is found in reconcile)."""
    silent_s, stuck_after = config.silent_after_s, config.stuck_after_readings
    if (_lively(rfid.heard_s, rfid.repeats, now_s, silent_s, stuck_after)
            and _lively(scale.heard_s, scale.repeats, now_s, silent_s, stuck_after)
            and (lot.probe_id is None
                 or _lively(probe.heard_s, probe.repeats, now_s, silent_s, stuck_after))):
        return []                              # the usual case, settled without the rules
    conditions = []
    heard = [("rfid", lot.reader_id, rfid.heard_s), ("scale", lot.scale_id, scale.heard_s)]
    if lot.probe_id is not None:
        heard.append(("temperature", lot.probe_id, probe.heard_s))
    healthy_since_s = gateway.healthy_since_s
    if healthy_since_s is not None and is_healthy(gateway, now_s, config):
        for kind, sensor_id, heard_s in heard:
            since_s = max(heard_s if heard_s is not None else gateway.watched_since_s, healthy_since_s)
            if now_s - since_s >= config.silent_after_s:
                conditions.append(_fault(lot, sensor_id, gateway_id, kind, "dead", loan_id, lender_id))
    if rfid.repeats + 1 >= config.stuck_after_readings:
        conditions.append(_fault(lot, lot.reader_id, gateway_id, "rfid", "stuck", loan_id, lender_id))
    if scale_stuck(scale, config):
        conditions.append(_fault(lot, lot.scale_id, gateway_id, "scale", "stuck", loan_id, lender_id))
    if lot.probe_id is not None and probe.repeats + 1 >= config.stuck_after_readings:
        conditions.append(_fault(lot, lot.probe_id, gateway_id, "temperature", "stuck", loan_id, lender_id))
    return conditions
