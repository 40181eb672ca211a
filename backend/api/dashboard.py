"""The supervisor dashboard: its page at `/`, its files under `/static`, and the one read
it needs that the book API does not give (which warehouses hold which lots, commodity limits).

The page is plain HTML, CSS and JavaScript modules from `dashboards/web` (no build step,
nothing from a CDN). It keeps the API key in sessionStorage and sends it as a header.
"""
from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from backend.api.deps import Ctx, principal
from backend.services import access
from backend.services.api_keys import Principal

WEB_DIR = resources.files("dashboards") / "web"
# The page holds an API key: allow nothing but this origin's own files and calls.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter()


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", headers=PAGE_HEADERS)


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(WEB_DIR / "static"))


class WarehouseOut(BaseModel):
    id: str
    gateway: str | None  # staff only
    lots: list[str]


class CommodityOut(BaseModel):
    id: str
    unit: str
    perishable: bool
    temperature_max_c: float | None


class CallerOut(BaseModel):
    name: str
    role: str
    lender: str | None


class LayoutOut(BaseModel):
    caller: CallerOut  # who the key belongs to: the page shows only what this caller may use
    warehouses: list[WarehouseOut]
    commodities: list[CommodityOut]


@router.get("/api/v1/dashboard/layout", response_model=LayoutOut, tags=["dashboard"])
def layout(caller: Annotated[Principal, Depends(principal)], ctx: Ctx) -> LayoutOut:
    """Who the caller is, the warehouses with the lots it may see (a lender: only its own),
    and the commodities with their temperature limits."""
    registry = ctx.registry.snapshot()
    staff = access.is_staff(caller)
    warehouses = []
    for warehouse in sorted(registry.warehouses.values(), key=lambda w: w.id):
        lots = sorted(lot.id for lot in registry.lots.values() if lot.warehouse_id == warehouse.id
                      and access.sees_lot(caller, registry, lot.id))
        if staff or lots:
            warehouses.append(WarehouseOut(id=warehouse.id, lots=lots,
                                           gateway=warehouse.gateway_id if staff else None))
    commodities = [CommodityOut(id=c.id, unit=c.unit, perishable=c.perishable,
                                temperature_max_c=c.temperature_max_c)
                   for c in sorted(registry.commodities.values(), key=lambda c: c.id)]
    return LayoutOut(caller=CallerOut(name=caller.name, role=caller.role, lender=caller.lender),
                     warehouses=warehouses, commodities=commodities)
