"""Looking up message keys (gateway, epoch, seq) in a table keyed by them, in SQL both SQLite
and PostgreSQL answer from the primary key.

Why not `(gateway, epoch, seq) IN ((?, ?, ?), ...)`: SQLite answers a row-value IN list by
scanning the whole table, and these tables hold every message ever recorded, so each ingest
commit got slower for the life of the installation. Grouped per (gateway, epoch) as
`gateway = ? AND epoch = ? AND seq IN (...)` terms, each term is a range of the key.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

MessageKey = tuple[str, int, int]


def key_lookups(table: str, keys: Sequence[MessageKey], mark: str = "?",
                max_parameters: int = 500) -> Iterator[tuple[str, tuple]]:
    """(statement, parameters) selecting the `keys` that `table` holds (gateway, epoch, seq
    columns), each statement with at most about `max_parameters` bound values."""
    seqs: dict[tuple[str, int], list[int]] = {}
    for gateway, epoch, seq in keys:
        seqs.setdefault((gateway, epoch), []).append(seq)
    terms: list[str] = []
    parameters: list = []
    for (gateway, epoch), listed in seqs.items():
        for start in range(0, len(listed), max_parameters):
            chunk = listed[start:start + max_parameters]
            terms.append(f"(gateway = {mark} AND epoch = {mark} AND seq IN ({', '.join([mark] * len(chunk))}))")
            parameters += [gateway, epoch, *chunk]
            if len(parameters) >= max_parameters:
                yield _select(table, terms), tuple(parameters)
                terms, parameters = [], []
    if terms:
        yield _select(table, terms), tuple(parameters)


def _select(table: str, terms: list[str]) -> str:
    return f"SELECT gateway, epoch, seq FROM {table} WHERE {' OR '.join(terms)}"
