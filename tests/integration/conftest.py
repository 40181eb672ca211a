"""Fixtures of the integration tests."""
from __future__ import annotations

import pytest
from book_helpers import BOOK, Clock, api_keys
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.bootstrap import build_context
from backend.settings import BackendSettings


@pytest.fixture
def book(tmp_path, database_url):
    clock = Clock()
    settings = BackendSettings(data_dir=tmp_path / "data", database_url=database_url, book=BOOK,
                               roles=["api", "monitor"], api_keys=api_keys(),
                               monitor={"reporting_period_s": 60, "confirmation_s": 600})
    context = build_context(settings, clock)
    client = TestClient(create_app(context))
    yield context, client, clock
    context.close()
