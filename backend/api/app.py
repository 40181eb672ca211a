"""The HTTP application: routes only parse, call a service and shape the answer."""
from __future__ import annotations

from fastapi import FastAPI

from backend.api import (alerts, book, commands, dashboard, events, gateways, health, inspections,
                         keys, prices, readings, registry, webhooks)
from backend.api.errors import ERROR_RESPONSES
from backend.api.guards import BodySizeLimit, install_audit_log


def create_app(context) -> FastAPI:
    """`context` is the process's BackendContext (see backend.bootstrap)."""
    app = FastAPI(title="PledgeWatch", version="1", openapi_url="/openapi.json")
    app.state.context = context
    app.add_middleware(BodySizeLimit, max_bytes=context.settings.http.max_body_bytes)
    install_audit_log(app)
    app.include_router(health.router)
    if "api" in context.settings.roles:
        for module in (readings, gateways, book, alerts, prices, registry, keys, events, dashboard,
                       commands, webhooks, inspections):
            app.include_router(module.router, responses=ERROR_RESPONSES)
        app.mount("/static", dashboard.static_files(), name="static")
    return app
