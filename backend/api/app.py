"""The HTTP application: routes only parse, call a service and shape the answer."""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from backend.api import alerts, book, commands, gateways, health, prices, readings, registry


def create_app(context) -> FastAPI:
    """`context` is the process's BackendContext (see backend.bootstrap)."""
    app = FastAPI(title="PledgeWatch", version="1", openapi_url="/openapi.json")
    app.state.context = context
    app.include_router(health.router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/docs")  # the supervisor dashboard will live here

    if "api" in context.settings.roles:
        for module in (readings, gateways, book, alerts, prices, registry, commands):
            app.include_router(module.router)
    return app
