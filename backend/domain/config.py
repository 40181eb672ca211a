"""Tuning of the monitor. Every window is in seconds of (simulated or real) time."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    # How often gateways report; the freshness rules below are counted in these periods.
    reporting_period_s: int = 60
    # RFID presence: a tag is present if read in any of the last N inventory rounds. With a
    # 97 % per-round read rate a present tag is missed by 3 rounds with odds 0.03³ ≈ 3e-5.
    read_window_rounds: int = 3
    # Scale: the median of the last N readings (one spike cannot move it).
    weight_window_readings: int = 3
    # Scale tolerance = expected weight × (scale error + shrink allowance) + resolution.
    # 0.2 % is 4σ of a 0.05 % industrial platform scale; 0.3 % allows for moisture loss,
    # dust and handling shrink over the life of a pledge.
    scale_error_fraction: float = 0.002
    shrink_allowance_fraction: float = 0.003
    scale_resolution_kg: float = 0.1
    # A noisy condition must hold this long before its alert opens (≤ 15 min end to end),
    # and be gone this long before it resolves.
    confirmation_s: int = 600
    clear_s: int = 300
    # A sensor is stale after 2.5 missed periods, dead after 5, a gateway offline after 5.
    stale_after_periods: float = 2.5
    silent_after_periods: float = 5.0
    # Identical consecutive readings (or a repeated RFID round) this many times: stuck.
    stuck_after_readings: int = 10
    max_clock_skew_s: int = 120
    # LTV must fall this far below a threshold before its status steps down.
    ltv_hysteresis: Decimal = Decimal("0.02")
    # A tick this far from the accepted price is held as an outlier until N more ticks agree.
    price_outlier_fraction: Decimal = Decimal("0.25")
    price_outlier_confirm_ticks: int = 3
    # Temperature readings further apart than this add no exposure (a gap is not a fact).
    max_exposure_gap_s: int = 900
    # Unverified collateral (a witness dead, stuck, drifting, missing, or its gateway gone):
    # full lending value for the grace period, then a linear fall to 0 at zero_after. An hour
    # covers a reboot or a swapped battery; in a day a lot can be emptied and refilled.
    unverified_grace_s: int = 3600
    unverified_zero_after_s: int = 86_400
    # An inspection task (unverified collateral, a critical alert on a lot) is due this long
    # after its first alert opened; then it is overdue.
    inspection_deadline_s: int = 86_400

    # Derived once (read per sensor per step): the periods in seconds, the scale tolerance.
    stale_after_s: float = field(init=False, repr=False, compare=False)
    silent_after_s: float = field(init=False, repr=False, compare=False)
    weight_tolerance_fraction: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        derived = {"stale_after_s": self.stale_after_periods * self.reporting_period_s,
                   "silent_after_s": self.silent_after_periods * self.reporting_period_s,
                   "weight_tolerance_fraction": self.scale_error_fraction + self.shrink_allowance_fraction}
        for name, value in derived.items():
            object.__setattr__(self, name, value)
