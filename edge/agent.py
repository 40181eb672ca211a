"""The gateway agent: drivers -> batcher -> outbox -> uplink, as named tasks."""
from __future__ import annotations

import asyncio
import logging
import time
from importlib.metadata import PackageNotFoundError, version

from edge import protocol
from edge.config import DriverBlock, EdgeSettings
from edge.clock import ClockStatus
from edge.drivers import Clock, Driver, DriverError, Sample, create_driver, parse_driver_config
from edge.filtering import SampleFilters
from edge.keys import load_private_key
from edge.outbox import Outbox
from edge.pipeline import Batcher
from edge.uplink import Uplink

log = logging.getLogger("pledgewatch.edge")


def _firmware_version() -> str:
    try:
        return version("pledgewatch")
    except PackageNotFoundError:
        return "dev"


class EdgeAgent:
    def __init__(self, settings: EdgeSettings, clock: Clock = time.time) -> None:
        self.settings, self.clock = settings, clock
        self.signer = (protocol.Signer(load_private_key(settings.key_file))
                       if settings.key_file else None)
        self.outbox = Outbox(settings.state_dir / "outbox.sqlite")
        self.epoch = self.outbox.next_boot_epoch()
        batch = settings.batch
        self.batcher = Batcher(settings.gateway_id, self.epoch, self.signer,
                               batch.max_readings, batch.max_delay_s)
        self.uplink = Uplink(settings, self.epoch, self.outbox, self._birth_info)
        self.readings_total = 0
        self.sample_every_s = [block.every_s for block in settings.drivers]
        self.clock_status = ClockStatus(settings.clock_source)
        self._batch_ready = asyncio.Event()

    def _birth_info(self) -> dict:
        return {"firmware": _firmware_version(),
                "drivers": [block.driver for block in self.settings.drivers],
                "key_id": self.signer.key_id if self.signer else None,
                "clock_synced": self.clock_status.synced(),
                "outbox_depth": self.outbox.depth()}

    async def run(self) -> None:
        """Run until cancelled; on the way out, buffered readings go to the outbox."""
        log.info("gateway %s starting, boot epoch %d", self.settings.gateway_id, self.epoch)
        try:
            async with asyncio.TaskGroup() as tasks:
                for n, block in enumerate(self.settings.drivers):
                    tasks.create_task(self._sample(n, block), name=f"sample-{n}-{block.driver}")
                tasks.create_task(self._batch(), name="batch")
                tasks.create_task(self.uplink.run(), name="uplink")
        finally:
            await asyncio.to_thread(self._store, self.batcher.flush(self.clock()))
            self.outbox.close()

    async def _sample(self, index: int, block: DriverBlock) -> None:
        driver = create_driver(block.driver, parse_driver_config(block.driver, block.config), self.clock)
        filters = SampleFilters(block.filter.policy())
        try:
            while True:
                started = time.monotonic()
                samples = await self._read(driver, block.driver)
                now_s = self.clock()
                samples = filters.apply(samples, now_s)
                self.readings_total += len(samples)
                self.batcher.add(samples, now_s, self.clock_status.synced())
                if samples:
                    self._batch_ready.set()  # the batch loop re-arms its flush timer
                every_s = self.sample_every_s[index]  # a `set_interval` command may change it
                await asyncio.sleep(max(0.0, every_s - (time.monotonic() - started)))
        finally:
            await driver.aclose()

    async def _read(self, driver: Driver, name: str) -> list[Sample]:
        """One round; a DriverError becomes a `bad` reading of each of the driver's sensors."""
        try:
            return await driver.read()
        except DriverError as exc:
            log.warning("driver %s: %s", name, exc)
            time_ms = round(self.clock() * 1000)
            return [Sample(sensor, kind, time_ms, {}, "bad", error=exc.code)
                    for sensor, kind in getattr(driver, "sensors", ())]

    async def _batch(self) -> None:
        while True:
            wait_s = self.batcher.seconds_until_due(self.clock())
            try:
                await asyncio.wait_for(self._batch_ready.wait(), timeout=wait_s)
            except TimeoutError:
                pass
            self._batch_ready.clear()
            if self.batcher.due(self.clock()):
                await asyncio.to_thread(self._store, self.batcher.flush(self.clock()))
                self.uplink.new_batch.set()

    def _store(self, batches) -> None:
        for batch in batches:
            self.outbox.append(batch)
