"""`sim_lot`: an in-process simulated lot (scale + RFID reader + optional probe).

For the demo and tests before real devices exist on the bench: it samples the
physical models of firmware_sim directly instead of talking a device protocol.
"""
from __future__ import annotations

import random

from pydantic import BaseModel, Field

from edge.drivers import Clock, Sample, register
from firmware_sim.models import Lot, RfidModel, ScaleModel, TemperatureModel


class SimLotConfig(BaseModel):
    model_config = {"extra": "forbid"}
    lot: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,50}$")  # sensors are <lot>-scale, ...
    items: int = Field(ge=0, le=10_000)
    item_weight_kg: float = Field(gt=0)
    epc_prefix: str = Field(pattern=r"^[0-9A-F]{2,12}$")
    temperature_c: float | None = None  # None: no probe on this lot
    rfid_read_rate: float = Field(0.97, gt=0, le=1)
    scale_sigma: float = Field(0.0005, ge=0)
    temperature_sigma_c: float = Field(0.2, ge=0)
    seed: int = 0


@register("sim_lot", SimLotConfig)
class SimulatedLot:
    def __init__(self, config: SimLotConfig, clock: Clock) -> None:
        rng = random.Random(config.seed)
        self.config, self.clock = config, clock
        self.sensors = ((f"{config.lot}-scale", "weight"), (f"{config.lot}-rfid", "rfid")) + (
            ((f"{config.lot}-temp", "temperature"),) if config.temperature_c is not None else ())
        self.lot = Lot.of_items(config.epc_prefix, config.items, config.item_weight_kg)
        self.scale = ScaleModel(self.lot, rng, sigma=config.scale_sigma)
        self.rfid = RfidModel(self.lot, rng, read_rate=config.rfid_read_rate)
        self.probe = (TemperatureModel(config.temperature_c, rng, sigma_c=config.temperature_sigma_c)
                      if config.temperature_c is not None else None)

    async def read(self) -> list[Sample]:
        now_s = self.clock()
        time_ms = int(now_s * 1000)
        lot = self.config.lot
        samples = []
        weight_kg = self.scale.read_kg(now_s)
        if weight_kg is not None:
            samples.append(Sample(f"{lot}-scale", "weight", time_ms,
                                  {"weight_kg": round(weight_kg, 1), "stable": True}))
        tags = self.rfid.inventory_round(now_s)
        if tags is not None:
            samples.append(Sample(f"{lot}-rfid", "rfid", time_ms, {"tags": [
                {"epc": t.epc.lower(), "antenna": t.antenna, "rssi_dbm": t.rssi_dbm,
                 "seen_count": t.seen_count} for t in tags]}))
        if self.probe is not None:
            temperature_c = self.probe.read_c(now_s)
            if temperature_c is not None:
                samples.append(Sample(f"{lot}-temp", "temperature", time_ms,
                                      {"temperature_c": temperature_c}))
        return samples

    async def aclose(self) -> None:
        return None
