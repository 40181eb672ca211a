"""scale_modbus driver ↔ simulated weighing indicator over real Modbus TCP on a free port."""
import asyncio
import random
import time
from contextlib import asynccontextmanager

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes

from edge.drivers import DriverError
from edge.drivers.scale_modbus import ScaleModbus, ScaleModbusConfig
from edge.modbus_map import ScaleCoil, ScaleStatus
from firmware_sim.modbus_devices import SimulatedScale
from firmware_sim.models import Fault, Lot, ScaleModel

pytestmark = pytest.mark.integration

RESOLUTION_KG = 0.1
TIMEOUT_S = 0.3
START_S = 1_700_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now_s = START_S

    def __call__(self) -> float:
        return self.now_s


@asynccontextmanager
async def scale_rig(lot: Lot, clock: FakeClock, sigma: float = 0.0, **device_options):
    """A simulated indicator on a free port and a driver connected to it; both closed after."""
    model = ScaleModel(lot, random.Random(7), sigma=sigma)
    async with SimulatedScale(model, clock, **device_options) as device:
        config = ScaleModbusConfig(sensor="lot-1-scale", host="127.0.0.1", port=device.port,
                                   timeout_s=TIMEOUT_S)
        driver = ScaleModbus(config, clock)
        try:
            yield device, driver
        finally:
            await driver.aclose()


async def read_one(driver: ScaleModbus):
    (sample,) = await driver.read()
    return sample


def test_weight_follows_the_model_and_drops_when_items_leave():
    async def scenario():
        clock, lot = FakeClock(), Lot.of_items("30", 10, 1_000.0)
        async with scale_rig(lot, clock, sigma=0.0005) as (device, driver):
            sample = await read_one(driver)
            assert (sample.sensor, sample.kind, sample.time_ms) == ("lot-1-scale", "weight",
                                                                    START_S * 1000)
            # Noise of 0.05 % on 10 t is about 5 kg: within 4 sigma of the lot.
            assert sample.values["weight_kg"] == pytest.approx(10_000.0, abs=20.0)
            assert sample.values["weight_kg"] == round(sample.values["weight_kg"], 1)
            lot.remove(3)
            clock.now_s += 5
            moving = await read_one(driver)
            assert (moving.values["stable"], moving.quality) == (False, "uncertain")
            settled = await read_one(driver)
            assert settled.values["weight_kg"] == pytest.approx(7_000.0, abs=20.0)
            assert (settled.values["stable"], settled.quality) == (True, "good")

    asyncio.run(scenario())


def test_noiseless_weight_is_exact_to_the_resolution():
    async def scenario():
        clock, lot = FakeClock(), Lot.of_items("31", 4, 1_234.56)
        async with scale_rig(lot, clock) as (_, driver):
            sample = await read_one(driver)
            assert sample.values["weight_kg"] == pytest.approx(4_938.2, abs=RESOLUTION_KG / 2)

    asyncio.run(scenario())


def test_tare_zero_and_clear_tare():
    async def scenario():
        clock, lot = FakeClock(), Lot.of_items("32", 5, 500.0)
        lot.tare_kg = 40.0  # the pallet
        async with scale_rig(lot, clock) as (device, driver):
            assert (await read_one(driver)).values["weight_kg"] == pytest.approx(2_540.0)
            await driver.tare()
            tared = await read_one(driver)
            assert (tared.values["weight_kg"], tared.quality) == (0.0, "good")
            lot.remove(1)
            clock.now_s += 5
            await read_one(driver)  # in motion
            below_tare = await read_one(driver)
            assert (below_tare.values["weight_kg"], below_tare.quality) == (0.0, "uncertain")
            await driver.clear_tare()
            assert (await read_one(driver)).values["weight_kg"] == pytest.approx(2_040.0)
            await driver.zero()
            zeroed = await read_one(driver)
            assert (zeroed.values["weight_kg"], zeroed.quality) == (0.0, "good")
            assert device.zero_offset_kg == pytest.approx(2_040.0)

    asyncio.run(scenario())


def test_stuck_sensor_keeps_showing_the_old_weight():
    async def scenario():
        clock, lot = FakeClock(), Lot.of_items("33", 10, 100.0)
        async with scale_rig(lot, clock) as (device, driver):
            await read_one(driver)
            stuck = Fault("stuck", start_s=clock.now_s)
            device.model.inject(stuck)
            lot.remove(4)
            clock.now_s += 60
            sample = await read_one(driver)
            # The indicator cannot know: a frozen value looks good and stable.
            assert (sample.values["weight_kg"], sample.quality) == (pytest.approx(1_000.0), "good")
            stuck.end_s = clock.now_s
            await read_one(driver)
            assert (await read_one(driver)).values["weight_kg"] == pytest.approx(600.0)

    asyncio.run(scenario())


def test_drift_grows_one_percent_per_hour():
    async def scenario():
        clock, lot = FakeClock(), Lot.of_items("34", 10, 1_000.0)
        async with scale_rig(lot, clock) as (device, driver):
            device.model.inject(Fault("drift", start_s=clock.now_s))
            clock.now_s += 5 * 3600
            await read_one(driver)  # the first drifted reading is a jump
            sample = await read_one(driver)
            assert sample.values["weight_kg"] == pytest.approx(10_500.0, abs=RESOLUTION_KG)

    asyncio.run(scenario())


def test_dead_load_cell_reads_bad_without_a_weight_and_refuses_tare():
    async def scenario():
        clock, lot = FakeClock(), Lot.of_items("35", 10, 1_000.0)
        async with scale_rig(lot, clock) as (device, driver):
            device.model.inject(Fault("dead", start_s=clock.now_s))
            sample = await read_one(driver)
            assert (sample.quality, sample.values) == ("bad", {"stable": False})
            with pytest.raises(DriverError, match="exception code 4"):
                await driver.tare()

    asyncio.run(scenario())


def test_overload_reads_bad_with_the_weight_shown():
    async def scenario():
        clock, lot = FakeClock(), Lot.of_items("36", 4, 1_000.0)
        async with scale_rig(lot, clock, capacity_kg=3_000.0) as (_, driver):
            sample = await read_one(driver)
            assert (sample.quality, sample.values["weight_kg"]) == ("bad", pytest.approx(4_000.0))

    asyncio.run(scenario())


def test_power_cut_raises_driver_error_then_the_driver_reconnects():
    async def scenario():
        clock, lot = FakeClock(), Lot.of_items("37", 10, 1_000.0)
        async with scale_rig(lot, clock) as (device, driver):
            await read_one(driver)
            await device.power_cut()
            for _ in range(2):  # the open connection, then a fresh connect attempt
                started_s = time.monotonic()
                with pytest.raises(DriverError, match="unreachable"):
                    await driver.read()
                assert time.monotonic() - started_s < TIMEOUT_S + 0.5
            await device.power_restore()
            sample = await read_one(driver)
            assert (sample.values["weight_kg"], sample.quality) == (pytest.approx(10_000.0), "good")

    asyncio.run(scenario())


def test_unreachable_device_fails_within_the_timeout():
    async def scenario():
        clock, lot = FakeClock(), Lot.of_items("38", 1, 1.0)
        async with scale_rig(lot, clock) as (device, _):
            port = device.port
        config = ScaleModbusConfig(sensor="s", host="127.0.0.1", port=port, timeout_s=TIMEOUT_S)
        driver = ScaleModbus(config, clock)
        try:
            with pytest.raises(DriverError, match=f"127.0.0.1:{port} unreachable"):
                await driver.read()
        finally:
            await driver.aclose()

    asyncio.run(scenario())


def test_device_speaks_the_documented_map_to_a_plain_modbus_client():
    async def scenario():
        clock, lot = FakeClock(), Lot.of_items("39", 2, 1_000.05)
        async with scale_rig(lot, clock) as (device, _):
            client = AsyncModbusTcpClient("127.0.0.1", port=device.port, timeout=TIMEOUT_S,
                                          reconnect_delay=0)
            try:
                assert await client.connect()
                registers = (await client.read_input_registers(0, count=7)).registers
                assert registers == [0x0000, 0x4E21, 0x0000, 0x4E21, 1, int(ScaleStatus.STABLE), 0]
                echo = await client.write_coil(ScaleCoil.TARE, True)
                assert echo.bits[0] is True  # FC05 echoes the request
                assert (await client.read_coils(0, count=3)).bits[:3] == [False] * 3
                assert (await client.write_coil(9, True)).exception_code == ExcCodes.ILLEGAL_ADDRESS
                refused = await client.read_holding_registers(0, count=1)
                assert refused.exception_code == ExcCodes.ILLEGAL_FUNCTION
            finally:
                client.close()

    asyncio.run(scenario())
