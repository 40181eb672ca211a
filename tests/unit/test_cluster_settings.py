"""The settings of a deployment over several hosts: where the ingest ledger lives, the
monitor partitions and their lease."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from backend.settings import BackendSettings

PG = "postgresql+psycopg://pw@db.example/pw"


@pytest.mark.parametrize(("ledger", "database_url", "in_database"), [
    ("auto", None, False), ("auto", "sqlite:///x.sqlite", False), ("auto", PG, True),
    ("sqlite", PG, False), ("database", None, True)])
def test_the_ledger_goes_to_the_database_when_told_or_when_it_is_postgresql(ledger, database_url, in_database):
    settings = BackendSettings(database_url=database_url, ingest={"ledger": ledger})
    assert settings.ledger_in_database() is in_database


def test_an_unknown_ledger_is_refused_naming_the_field():
    with pytest.raises(ValidationError, match=r"ingest\.ledger"):
        BackendSettings(ingest={"ledger": "postgres"})


def test_a_lease_must_outlast_two_ticks():
    with pytest.raises(ValidationError, match="monitor.lease_s"):
        BackendSettings(monitor={"partitions": 4, "lease_s": 3, "interval_s": 2})
    assert BackendSettings(monitor={"partitions": 4, "lease_s": 4, "interval_s": 2}).monitor.partitions == 4


def test_lot_views_older_than_three_ticks_or_10_s_refuse_releases_and_the_bound_must_outlast_two_ticks():
    assert BackendSettings().monitor.view_max_age() == 10.0
    assert BackendSettings(monitor={"interval_s": 5}).monitor.view_max_age() == 15.0
    assert BackendSettings(monitor={"view_max_age_s": 30}).monitor.view_max_age() == 30.0
    with pytest.raises(ValidationError, match="monitor.view_max_age_s"):
        BackendSettings(monitor={"view_max_age_s": 3, "interval_s": 2})
