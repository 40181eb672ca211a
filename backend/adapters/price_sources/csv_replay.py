"""CSV/file replay: a recorded price history played back at its own pace.

Columns: `offset_s,commodity,price,currency,per`. A row whose `commodity` is a pair
(`USD/CNY`) is an FX rate (`price` = units of quote per base; currency and per ignored).
A row is due once `offset_s` seconds have passed since the source's first poll, and its
quote is timed at first poll + offset. With `loop`, the file starts again when done.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from backend.adapters.price_sources import to_decimal
from backend.ports.prices import FxQuote, PriceQuote, PriceSourceError, Quote, parse_pair

COLUMNS = ("offset_s", "commodity", "price", "currency", "per")


@dataclass(frozen=True)
class ReplayRow:
    offset_s: float
    commodity: str
    price: str
    currency: str
    per: str


def read_rows(path: Path) -> list[ReplayRow]:
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise PriceSourceError(f"{path}: the header must be {','.join(COLUMNS)}")
            rows = [ReplayRow(float(r["offset_s"]), r["commodity"], r["price"], r["currency"], r["per"])
                    for r in reader]
    except OSError as exc:
        raise PriceSourceError(f"cannot read {path}: {exc.strerror}") from exc
    except (ValueError, TypeError) as exc:
        raise PriceSourceError(f"{path}: a row has no number in offset_s") from exc
    return sorted(rows, key=lambda r: r.offset_s)


class CsvReplaySource:
    def __init__(self, name: str, path: Path, *, interval_s: float = 1.0, loop: bool = False) -> None:
        self.name, self.interval_s, self.loop = name, interval_s, loop
        self.rows = read_rows(path)
        self._started_s: float | None = None
        self._next = 0

    def poll(self, now_s: float) -> list[Quote]:
        if self._started_s is None:
            self._started_s = now_s
        due = []
        while self.rows and self._next < len(self.rows) and \
                self.rows[self._next].offset_s <= now_s - self._started_s:
            due.append(self._quote(self.rows[self._next]))
            self._next += 1
        if self.loop and self.rows and self._next == len(self.rows):
            self._started_s, self._next = now_s, 0
        return due

    def _quote(self, row: ReplayRow) -> Quote:
        at_s = self._started_s + row.offset_s
        if "/" in row.commodity:
            return FxQuote(*parse_pair(row.commodity), to_decimal(row.price), at_s)
        return PriceQuote(row.commodity, to_decimal(row.price), row.currency, row.per, at_s)
