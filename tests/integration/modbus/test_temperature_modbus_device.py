"""temperature_modbus driver ↔ simulated probe over real Modbus TCP on a free port."""
import asyncio
import math
import random
from contextlib import asynccontextmanager

import pytest

from edge.drivers import DriverError
from edge.drivers.temperature_modbus import TemperatureModbus, TemperatureModbusConfig
from firmware_sim.modbus_devices import SimulatedProbe
from firmware_sim.models import Fault, TemperatureModel

pytestmark = pytest.mark.integration

TIMEOUT_S = 0.3
START_S = 1_700_000_000.0
TIME_CONSTANT_S = 600.0


class FakeClock:
    def __init__(self) -> None:
        self.now_s = START_S

    def __call__(self) -> float:
        return self.now_s


@asynccontextmanager
async def probe_rig(setpoint_c: float, clock: FakeClock, **device_options):
    """A noiseless simulated probe on a free port and a driver connected to it; both closed after."""
    model = TemperatureModel(setpoint_c, random.Random(3), sigma_c=0.0,
                             time_constant_s=TIME_CONSTANT_S)
    async with SimulatedProbe(model, clock, **device_options) as device:
        config = TemperatureModbusConfig(sensor="cold-room-temp", host="127.0.0.1",
                                         port=device.port, timeout_s=TIMEOUT_S)
        driver = TemperatureModbus(config, clock)
        try:
            yield device, driver
        finally:
            await driver.aclose()


async def read_one(driver: TemperatureModbus):
    (sample,) = await driver.read()
    return sample


def test_temperature_follows_the_thermal_model():
    async def scenario():
        clock = FakeClock()
        async with probe_rig(-18.25, clock) as (device, driver):
            sample = await read_one(driver)
            assert (sample.sensor, sample.kind, sample.time_ms) == ("cold-room-temp", "temperature",
                                                                    START_S * 1000)
            assert (sample.values, sample.quality) == ({"temperature_c": -18.25}, "good")
            device.model.set_setpoint(-8.25)  # the door stays open
            clock.now_s += TIME_CONSTANT_S
            expected_c = -18.25 + 10.0 * (1 - math.exp(-1))
            assert (await read_one(driver)).values["temperature_c"] == pytest.approx(expected_c,
                                                                                     abs=0.01)

    asyncio.run(scenario())


def test_stuck_probe_keeps_its_last_value():
    async def scenario():
        clock = FakeClock()
        async with probe_rig(4.0, clock) as (device, driver):
            await read_one(driver)
            device.model.inject(Fault("stuck", start_s=clock.now_s))
            device.model.set_setpoint(12.0)
            clock.now_s += 3 * TIME_CONSTANT_S
            assert (await read_one(driver)).values == {"temperature_c": 4.0}

    asyncio.run(scenario())


def test_drift_grows_one_percent_per_hour():
    async def scenario():
        clock = FakeClock()
        async with probe_rig(-20.0, clock) as (device, driver):
            device.model.inject(Fault("drift", start_s=clock.now_s))
            clock.now_s += 10 * 3600
            assert (await read_one(driver)).values["temperature_c"] == pytest.approx(-22.0, abs=0.01)

    asyncio.run(scenario())


def test_dead_sensor_reads_bad_without_a_temperature():
    async def scenario():
        clock = FakeClock()
        async with probe_rig(4.0, clock) as (device, driver):
            dead = Fault("dead", start_s=clock.now_s)
            device.model.inject(dead)
            sample = await read_one(driver)
            assert (sample.quality, sample.values) == ("bad", {})
            dead.end_s = clock.now_s
            assert (await read_one(driver)).quality == "good"

    asyncio.run(scenario())


def test_out_of_range_reads_bad_at_the_range_limit():
    async def scenario():
        clock = FakeClock()
        async with probe_rig(-60.0, clock, low_c=-50.0) as (_, driver):
            sample = await read_one(driver)
            assert (sample.quality, sample.values) == ("bad", {"temperature_c": -50.0})

    asyncio.run(scenario())


def test_power_cut_raises_driver_error_then_the_driver_reconnects():
    async def scenario():
        clock = FakeClock()
        async with probe_rig(4.0, clock) as (device, driver):
            await read_one(driver)
            await device.power_cut()
            assert not device.powered
            with pytest.raises(DriverError, match="unreachable"):
                await driver.read()
            await device.power_restore()
            assert (await read_one(driver)).values == {"temperature_c": 4.0}

    asyncio.run(scenario())
