"""The HTTP application: routes only parse, call a service and shape the answer."""
from __future__ import annotations

from fastapi import FastAPI

from backend.api import alerts, book, commands, dashboard, events, gateways, health, prices, readings, registry, webhooks


def create_app(context) -> FastAPI:
    """`context` is the process's BackendContext (see backend.bootstrap)."""
    app = FastAPI(title="PledgeWatch", version="1", openapi_url="/openapi.json")
    app.state.context = context
    app.include_router(health.router)
    if "api" in context.settings.roles:
        for module in (readings, gateways, book, alerts, prices, registry, commands, events, dashboard, webhooks):
            app.include_router(module.router)
        app.mount("/static", dashboard.static_files(), name="static")
    return app
