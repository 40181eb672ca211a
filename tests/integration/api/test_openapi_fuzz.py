"""Schemathesis against the OpenAPI schema: whatever a client sends, never a 500, and every
answer matches the schema (status code, content type, body). Its generator writes only strict
JSON, never NaN or Infinity: test_strict_json_bodies.py sends those to every route with a body."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from book_helpers import BOOK, KEYS, api_keys  # noqa: E402

from backend.api.app import create_app  # noqa: E402
from backend.bootstrap import build_context  # noqa: E402
from backend.settings import BackendSettings  # noqa: E402

STREAMS = r"^/api/v1/events$"  # an endless SSE stream: covered by its own tests


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    settings_ = BackendSettings(data_dir=tmp_path_factory.mktemp("fuzz"), book=BOOK, roles=["api", "monitor"],
                                api_keys=api_keys(), http={"burst_per_key": 1_000_000})
    context = build_context(settings_)
    context.monitor.tick()
    app = create_app(context)
    yield schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=STREAMS)
    context.close()


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_no_server_error_and_answers_match_the_schema(api_schema):
    """Every operation, 25 generated requests each (schemathesis' pytest plugin does not run
    on this pytest yet, so the operations are driven through Hypothesis here)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {KEYS['admin']}"}, checks=CHECKS)

        exercise()


def test_every_operation_is_described_and_every_guarded_one_declares_the_bearer_scheme(api_schema):
    spec = api_schema.raw_schema
    scheme = spec["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    operations = {(method, path): op for path, methods in spec["paths"].items() for method, op in methods.items()}
    assert [key for key, op in operations.items() if not op.get("description")] == []
    unguarded = {key for key, op in operations.items() if not op.get("security")}
    # for load balancers and Prometheus; the public keys banks verify our signatures with
    assert unguarded == {("get", "/api/v1/health"), ("get", "/metrics"), ("get", "/.well-known/pledgewatch/webhook-keys"),
                         ("get", "/api/v1/documents/key")}
