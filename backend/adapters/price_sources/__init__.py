"""Price sources (the `PriceSource` port, backend.ports.prices): HTTP JSON, CSV replay,
simulated (polled), and the MQTT price topic (pushed). A source only reports quotes;
`backend.services.prices.PriceService.submit` guards them and writes the marks."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation


def to_decimal(value: object) -> Decimal:
    """A number as a vendor sent it (int, float, numeric string) as Decimal; NaN if not a number.

    Floats go through repr so 0.1 stays 0.1. Guards, not sources, decide what is acceptable.
    """
    if isinstance(value, bool) or value is None:
        return Decimal("NaN")
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        return Decimal("NaN")
