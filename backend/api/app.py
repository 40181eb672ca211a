"""The HTTP application: routes only parse, call a service and shape the answer."""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from backend.api import (
    alerts,
    book,
    cases,
    collateral,
    commands,
    dashboard,
    events,
    evidence,
    exports,
    gateways,
    health,
    inspections,
    keys,
    money,
    prices,
    readings,
    registry,
    releases,
    reports,
    risk_scores,
    silences,
    stress,
    webhook_schemas,
    webhooks,
)
from backend.api.errors import ERROR_RESPONSES
from backend.api.guards import BodySizeLimit, StrictJsonBodies, install_audit_log
from backend.bootstrap import BackendContext


def create_app(context: BackendContext) -> FastAPI:
    app = FastAPI(title="PledgeWatch", version="1", openapi_url="/openapi.json",
                  docs_url=None, redoc_url=None)  # /docs below: served from our own files, no CDN
    app.state.context = context
    app.add_middleware(StrictJsonBodies)  # inside the size cap: it reads the whole body
    app.add_middleware(BodySizeLimit, max_bytes=context.settings.http.max_body_bytes)
    install_audit_log(app)
    app.include_router(health.router)
    if "api" in context.settings.roles:
        for module in (readings, gateways, book, alerts, prices, registry, keys, events, dashboard,
                       commands, webhooks, inspections, exports, silences, money, collateral, stress, evidence,
                       cases, releases, reports, risk_scores):
            app.include_router(module.router, responses=ERROR_RESPONSES)
        app.mount("/static", dashboard.static_files(), name="static")
        app.add_api_route("/docs", api_reference, include_in_schema=False)
        webhook_schemas.document(app)
    return app


SWAGGER_UI = "/static/vendor/swagger-ui"  # swagger-ui-dist, vendored with its licence


def api_reference() -> HTMLResponse:
    """The OpenAPI browser, working offline (a gateway shed or a bank's locked-down network)."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title="PledgeWatch API",
                               swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
                               swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
                               swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png")
