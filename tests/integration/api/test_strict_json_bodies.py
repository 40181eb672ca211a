"""NaN, Infinity, -Infinity, overflowing numbers, lone surrogates and too deep nesting in a
JSON body: a clear 422 on every route that takes a body, never a 500. The routes come from the
app's own OpenAPI schema, so a route added later is covered without touching this test."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from book_helpers import BOOK, KEYS, api_keys  # noqa: E402

from backend.api.app import create_app  # noqa: E402
from backend.bootstrap import build_context  # noqa: E402
from backend.settings import BackendSettings  # noqa: E402

# JSON Python's json module takes and JSON does not (or cannot be parsed): what the answer says.
BAD_BODIES = [(b"NaN", "must be finite"), (b'{"value": NaN}', "must be finite"),
              (b'{"value": Infinity}', "must be finite"), (b'{"nested": [1, -Infinity]}', "must be finite"),
              (b'{"value": 1e999}', "must be finite"), (b'{"value": "\\ud800"}', "lone surrogate"),
              (b"[" * 10_000 + b"]" * 10_000, "nested too deeply")]
ADMIN = {"Authorization": f"Bearer {KEYS['admin']}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings_ = BackendSettings(data_dir=tmp_path_factory.mktemp("nan"), book=BOOK, roles=["api", "monitor"],
                                api_keys=api_keys(), http={"burst_per_key": 1_000_000})
    context = build_context(settings_)
    yield create_app(context)
    context.close()


def routes_with_a_body(app) -> list[tuple[str, str]]:
    return [(method.upper(), re.sub(r"\{[^}]+\}", "x", path))
            for path, operations in app.openapi()["paths"].items()
            for method, operation in operations.items() if "requestBody" in operation]


def test_every_route_with_a_body_answers_422_to_what_json_does_not_allow(app):
    client = TestClient(app)  # a server error would raise here
    routes = routes_with_a_body(app)
    assert len(routes) >= 15, routes
    for method, path in routes:
        for body, says in BAD_BODIES:
            answer = client.request(method, path, content=body, headers=ADMIN)
            assert answer.status_code == 422, (method, path, body[:40], answer.text)
            assert says in answer.json()["detail"][0]["msg"], (method, path, body[:40])


def test_a_valid_body_with_one_non_finite_price_is_refused_and_the_finite_one_accepted(app):
    client = TestClient(app)
    body = '{"commodity": "steel_coil", "price": %s, "currency": "CNY", "per": "t"}'
    for bad in ("NaN", "Infinity", "-Infinity", "1e999"):
        answer = client.post("/api/v1/prices", content=body % bad, headers=ADMIN)
        assert answer.status_code == 422, (bad, answer.text)
    assert client.post("/api/v1/prices", content=body % "4100", headers=ADMIN).status_code == 201
    history = client.get("/api/v1/prices", params={"commodity": "steel_coil"}, headers=ADMIN).json()
    assert history["marks"][-1]["price"].startswith("4100")


def test_other_bad_json_keeps_fastapis_own_answer(app):
    client = TestClient(app)
    answer = client.post("/api/v1/prices", content=b'{"commodity": ', headers=ADMIN)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "json_invalid"
    surrogate = '{"commodity": "\\ud83d\\ude00", "price": 1, "currency": "CNY", "per": "t"}'  # a valid pair
    assert client.post("/api/v1/prices", content=surrogate, headers=ADMIN).status_code == 404  # no such commodity
