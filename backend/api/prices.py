"""Manual price marks (admin): authoritative; simulated feeds continue from them."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from backend.api.deps import context, require_role
from backend.domain.observations import PriceTick

router = APIRouter(prefix="/api/v1", tags=["prices"])


class PriceIn(BaseModel):
    commodity: str
    price: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    per: Annotated[str, Field(pattern=r"^(t|kg)$")]


@router.post("/prices", status_code=201)
def post_price(body: PriceIn, ctx=Depends(context), caller=Depends(require_role("admin"))) -> dict:
    if body.commodity not in ctx.registry.snapshot().commodities:
        raise HTTPException(404, f"no commodity {body.commodity!r}")
    tick = PriceTick(body.commodity, body.price, body.currency, body.per, ctx.clock())
    mark_id = ctx.prices.add(tick, source="manual")
    return {"id": mark_id, "commodity": body.commodity, "price": str(body.price),
            "currency": body.currency, "per": body.per, "at_s": tick.at_s}
