"""Two backend processes starting at once on a new database (two hosts of a cluster, or a
demo's roles): one brings the schema up to date, the other waits and finds it done; neither
fails with "table already exists"."""
from __future__ import annotations

import multiprocessing

from sqlalchemy import inspect

from backend.adapters.db.engine import make_engine, migrate


def start_up(url: str, start, results) -> None:
    start.wait()
    try:
        migrate(make_engine(url))
        results.put("ok")
    except Exception as error:  # reported to the test, which names it
        results.put(f"{type(error).__name__}: {error}")


def test_processes_migrating_a_new_database_at_once_all_start(empty_database_url):
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(3), context.Queue()
    processes = [context.Process(target=start_up, args=(empty_database_url, start, results)) for _ in range(3)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert outcomes == ["ok"] * 3
    engine = make_engine(empty_database_url)
    try:
        assert "alerts" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
