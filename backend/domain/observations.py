"""What arrives from the field since the last monitor step: gateway messages and price ticks.

Ingest has already decoded each message and checked its signature; a message whose
signature failed still arrives here (with `signature_ok=False`) so the core can report
tampering, but its samples are never believed.

Rounds and samples come one per lot per reporting period, hence NamedTuples: immutable
values like the frozen dataclasses, and several times cheaper to build.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple


class RfidRound(NamedTuple):
    """The EPCs one inventory round read. `round_at_s` is the reader's own timestamp for
    the round: a reader that keeps repeating one round is stuck."""

    epcs: frozenset[str]
    round_at_s: float


class LotSample(NamedTuple):
    """One reporting period of a lot's devices; a field is None when its device said nothing."""

    lot_id: str
    at_s: float                                # device clock
    rfid: RfidRound | None = None
    weight_kg: float | None = None             # gross, tare included
    temperature_c: float | None = None


@dataclass(frozen=True, slots=True)
class GatewayMessage:
    gateway_id: str
    sent_at_s: float                           # device clock
    received_at_s: float                       # backend clock
    signature_ok: bool
    samples: tuple[LotSample, ...] = ()


@dataclass(frozen=True, slots=True)
class PriceTick:
    commodity_id: str
    price: Decimal                             # per `per_unit`, in `currency`
    currency: str
    per_unit: str
    at_s: float
