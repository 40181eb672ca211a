"""What arrives from the field since the last monitor step: gateway messages and price ticks.

Ingest has already decoded each message and checked its signature; a message whose
signature failed still arrives here (with `signature_ok=False`) so the core can report
tampering, but its samples are never believed.

Rounds, samples and messages come one per lot or gateway per reporting period, hence
NamedTuples: immutable values like the frozen dataclasses, and several times cheaper to build.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple


class RfidRound(NamedTuple):
    """The EPCs one inventory round read: `named` ones, and those of `order` whose bits are
    set in `bits` (bit i: order[i]). A reader that knows its lot's EPC order (the registry's
    `Lot.epc_order`) reports the lot's own tags as bits, so the monitor merges a read window
    with an OR of integers; a round built from names alone (`RfidRound(epcs, at_s)`, as
    ingest does) means the same and is matched against the lot by name. A reader reports in
    one form, so "the same round again" is simply equality. `round_at_s` is the reader's own
    timestamp for the round: a reader that keeps repeating one round is stuck."""

    named: frozenset[str]
    round_at_s: float
    bits: int = 0
    order: tuple[str, ...] = ()

    @property
    def epcs(self) -> frozenset[str]:
        """Every EPC the round read."""
        if not self.bits:
            return self.named
        bits, order = self.bits, self.order
        return self.named.union([order[i] for i in range(bits.bit_length()) if bits >> i & 1])


class LotSample(NamedTuple):
    """One reporting period of a lot's devices; a field is None when its device said nothing."""

    lot_id: str
    at_s: float                                # device clock
    rfid: RfidRound | None = None
    weight_kg: float | None = None             # gross, tare included
    temperature_c: float | None = None


class GatewayMessage(NamedTuple):
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
