"""HTTP JSON poller: GET a vendor's URL and read one number out of the JSON by a path.

The path is dotted keys and list indexes, e.g. `data.quotes.0.last`. An optional
`time_path` reads the quote's own time (epoch seconds, or milliseconds when > 1e11);
without it the quote is timed at the poll.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

import httpx

from backend.adapters.price_sources import to_decimal
from backend.ports.prices import FxQuote, PriceQuote, PriceSourceError, Quote


def read_path(document: Any, path: str) -> Any:
    """Follow `a.b.0.c` through dicts and lists; PriceSourceError names the missing step."""
    node = document
    for step in path.split("."):
        if isinstance(node, list) and step.lstrip("-").isdigit() and -len(node) <= int(step) < len(node):
            node = node[int(step)]
        elif isinstance(node, dict) and step in node:
            node = node[step]
        else:
            raise PriceSourceError(f"JSON path {path!r}: no {step!r}")
    return node


def quote_time_s(value: Any, fallback_s: float) -> float:
    number = to_decimal(value)
    if not number.is_finite():
        raise PriceSourceError(f"quote time {value!r} is not a number")
    return float(number / 1000 if number > Decimal("1e11") else number) if value is not None else fallback_s


class HttpJsonSource:
    def __init__(self, name: str, url: str, json_path: str, *, interval_s: float,
                 commodity: str | None = None, currency: str = "", per: str = "t",
                 fx_pair: tuple[str, str] | None = None, time_path: str | None = None,
                 headers: Mapping[str, str] | None = None, timeout_s: float = 5.0,
                 client: httpx.Client | None = None) -> None:
        self.name, self.url, self.json_path, self.interval_s = name, url, json_path, interval_s
        self.commodity, self.currency, self.per, self.fx_pair = commodity, currency, per, fx_pair
        self.time_path = time_path
        self.client = client or httpx.Client(timeout=timeout_s, headers=dict(headers or {}),
                                             follow_redirects=False)

    def poll(self, now_s: float) -> list[Quote]:
        try:
            response = self.client.get(self.url)
            response.raise_for_status()
            document = response.json()
        except httpx.HTTPStatusError as exc:
            raise PriceSourceError(f"{self.name}: HTTP {exc.response.status_code}") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise PriceSourceError(f"{self.name}: {type(exc).__name__}") from exc
        value = to_decimal(read_path(document, self.json_path))
        at_s = quote_time_s(read_path(document, self.time_path), now_s) if self.time_path else now_s
        if self.fx_pair:
            return [FxQuote(*self.fx_pair, value, at_s)]
        return [PriceQuote(self.commodity, value, self.currency, self.per, at_s)]

    def close(self) -> None:
        self.client.close()
