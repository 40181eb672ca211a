"""The gateway agent: drivers -> filters -> batcher -> outbox -> uplink, as named tasks."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Callable, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge import protocol
from edge.cancellation import StopRequest, run_until_cancelled
from edge.clock import ClockStatus
from edge.commands import CommandHandler, CommandRefused
from edge.config import DriverBlock, EdgeSettings
from edge.drivers import Clock, Driver, DriverError, Sample, create_driver, driver_version, parse_driver_config
from edge.filtering import SampleFilters
from edge.health import StorageHealth, Watchdog, log_stall
from edge.journal import SampleJournal
from edge.metrics import EdgeMetrics
from edge.outbox import Batch, Outbox, OutboxUnavailable, storage_error_kind
from edge.pipeline import Batcher, readings_of
from edge.protocol.keys import load_private_key, private_key_pem, public_key_pem
from edge.uplink import Uplink

log = logging.getLogger("pledgewatch.edge")

_RETRY_S = 5.0  # how often a refused disk is tried again (and the batch loop's longest sleep)


def _firmware_version() -> str:
    try:
        return version("pledgewatch")
    except PackageNotFoundError:
        return "dev"


class EdgeAgent:
    def __init__(self, settings: EdgeSettings, clock: Clock = time.time,
                 on_stall: Callable[[str, float], None] = log_stall) -> None:
        """`on_stall`: what the watchdog does when a loop stops making progress (the command
        line exits for a restart; an agent run inside another program only logs)."""
        self.settings, self.clock = settings, clock
        self.signer = (protocol.Signer(load_private_key(settings.key_file))
                       if settings.key_file else None)
        self.outbox, self.epoch = self._open_outbox()
        try:
            self.journal = SampleJournal(settings.state_dir / "journal", self.outbox.journal_done())
        except OSError as exc:
            raise OutboxUnavailable(f"state_dir {settings.state_dir} cannot hold the journal: {exc}") from exc
        batch = settings.batch
        self.batcher = Batcher(settings.gateway_id, self.epoch, self.signer,
                               batch.max_readings, batch.max_delay_s)
        self.metrics = EdgeMetrics(self.outbox.depth)
        self.storage = StorageHealth(self.metrics)
        self.watchdog = Watchdog(on_stall)
        self._unstored: list[tuple[list[Batch], int]] = []  # (batches, journal segment) not yet on disk
        self._lost: list[tuple[int, int, int]] = []  # (epoch, seq, readings) dropped from memory
        self.metrics_port: int | None = None
        self.sample_every_s = [block.every_s for block in settings.drivers]
        self.clock_status = ClockStatus(settings.clock_source)
        commands = CommandHandler(settings.gateway_id, settings.commands, self, self._remember_command,
                                  clock)
        self.stop = StopRequest()  # loops check it: a cancel can be lost on Python 3.11
        self.uplink = Uplink(settings, self.epoch, self.outbox, self._birth_info,
                             self._heartbeat_info, commands, clock, self.current_signer, self.metrics,
                             self.watchdog, self.stop)
        self._batch_ready = asyncio.Event()
        self._store_lock = threading.Lock()

    def _open_outbox(self) -> tuple[Outbox, int]:
        """The outbox and this boot's epoch; while the disk is full, wait for room (one log line)."""
        path, waiting = self.settings.state_dir / "outbox.sqlite", False
        while True:
            try:
                outbox = Outbox(path, self.settings.outbox.max_bytes)
                # After a corrupt outbox the old epochs are unknown: jump above any of them.
                return outbox, outbox.next_boot_epoch(int(self.clock()) if outbox.recreated else 0)
            except (sqlite3.Error, OSError) as exc:
                if storage_error_kind(exc) != "full":
                    raise
                if not waiting:
                    log.error("state_dir %s is full (%s): waiting for room before starting",
                              self.settings.state_dir, exc)
                    waiting = True
                time.sleep(_RETRY_S)

    def _birth_info(self) -> dict:
        return {"firmware": _firmware_version(),
                "drivers": {block.driver: driver_version(block.driver) for block in self.settings.drivers},
                "key_id": self.signer.key_id if self.signer else None,
                "clock_synced": self.clock_status.synced(),
                "clock_source": self.settings.clock_source,
                **self._counters()}

    def _heartbeat_info(self) -> dict:
        return {"clock_synced": self.clock_status.synced(), "last_seq": self.batcher.last_seq,
                **self._counters()}

    def _counters(self) -> dict:
        return {"outbox_depth": self.outbox.depth(), "outbox_bytes": self.outbox.size_bytes(),
                "dropped_readings": self.outbox.dropped_readings(),
                "evicted_readings": self.outbox.evicted_readings(),
                "readings_total": int(self.metrics.readings._value.get())}

    async def run(self) -> None:
        """Run until cancelled; on the way out, buffered readings go to the outbox."""
        log.info("gateway %s starting, boot epoch %d", self.settings.gateway_id, self.epoch)
        if self.settings.metrics.port is not None:
            self.metrics_port = self.metrics.serve(self.settings.metrics.host, self.settings.metrics.port)
            log.info("metrics on http://%s:%d/metrics", self.settings.metrics.host, self.metrics_port)
        self.watchdog.start()
        try:
            await asyncio.to_thread(self._recover_journal)
            await run_until_cancelled(self._work(), self.stop)
        finally:
            self.watchdog.stop()
            if len(self.batcher) or self._unstored:
                await asyncio.to_thread(self._store, *self._flush())
            self.metrics.stop()
            self.journal.close()
            self.outbox.close()

    async def _work(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            for n, block in enumerate(self.settings.drivers):
                tasks.create_task(self._sample(n, block), name=f"sample-{n}-{block.driver}")
            tasks.create_task(self._batch(), name="batch")
            tasks.create_task(self.uplink.run(), name="uplink")

    def _recover_journal(self) -> None:
        """Readings sampled by an earlier run but never batched become this epoch's first batches."""
        done = self.outbox.journal_done()
        self.journal.discard(done)  # stored, but the run stopped before deleting them
        readings, last = self.journal.recover(done)
        if readings:
            log.warning("recovered %d readings sampled before the last stop from the journal", len(readings))
            self.batcher.add_readings(readings, self.clock())
            self._store(self.batcher.flush(self.clock()), last)
        elif last:
            self.journal.discard(last)

    async def _sample(self, index: int, block: DriverBlock) -> None:
        driver = create_driver(block.driver, parse_driver_config(block.driver, block.config), self.clock)
        filters = SampleFilters(block.filter.policy())
        try:
            while True:
                self.stop.check()  # a driver's wait_for may have swallowed the cancel
                started = time.monotonic()
                samples = await self._read(driver, block.driver)
                now_s = self.clock()
                readings = readings_of(filters.apply(samples, now_s), self.clock_status.synced())
                try:
                    self.journal.write(readings)  # on disk before it waits in the buffer
                except OSError as exc:
                    self.storage.failed("sample journal", exc)
                self.metrics.readings.inc(len(readings))
                self.batcher.add_readings(readings, now_s)
                if readings:
                    self._batch_ready.set()  # the batch loop re-arms its flush timer
                every_s = self.sample_every_s[index]  # a `set_interval` command may change it
                self.watchdog.beat(f"sample-{index}", max(self.settings.watchdog_s, 3 * every_s))
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
            self.stop.check()
            self.watchdog.beat("batch", self.settings.watchdog_s)
            until_due_s = self.batcher.seconds_until_due(self.clock())
            wait_s = _RETRY_S if until_due_s is None else min(until_due_s, _RETRY_S)
            try:
                # Not wait_for: on 3.11 it can swallow a cancel that races with the event.
                async with asyncio.timeout(wait_s):
                    await self._batch_ready.wait()
            except TimeoutError:
                pass
            self._batch_ready.clear()
            if self.batcher.due(self.clock()):
                evicted = await asyncio.to_thread(self._store, *self._flush())
            elif self._unstored:  # the disk refused earlier: try again
                evicted = await asyncio.to_thread(self._store, [], None)
            else:
                continue
            if evicted:
                self.uplink.new_drops.set()
            self.uplink.new_batch.set()

    def _flush(self):
        """The buffered readings as batches, and the journal segment that holds exactly them."""
        return self.batcher.flush(self.clock()), self.journal.rotate()

    def _store(self, batches: list[Batch], journal_segment: int | None) -> int:
        """Append to the outbox, after what is still waiting in memory (then the journal
        segment is done); returns the readings evicted. When the disk refuses, the batches
        wait in memory, newest kept (docs/edge.md, "When state_dir fails")."""
        with self._store_lock:  # a store cancelled at shutdown still runs: the last flush waits
            if batches:
                self._unstored.append((batches, journal_segment))
            evicted = 0
            try:
                while self._unstored:
                    pending, segment = self._unstored[0]
                    evicted += self.outbox.append_many(pending, segment)
                    del self._unstored[0]
                    self.journal.discard(segment)
                if self._lost:
                    self.outbox.record_evicted(self._lost)
                    self._lost = []
            except (sqlite3.Error, OSError) as exc:
                self.storage.failed("outbox", exc)
                evicted += self._bound_unstored()
            else:
                self.storage.recovered()
            self.metrics.unstored.set(sum(b.readings for pending, _ in self._unstored for b in pending))
        self.metrics.evicted.inc(evicted)
        return evicted

    def _bound_unstored(self) -> int:
        """Beyond `max_unstored_readings` in memory, drop the oldest batches (announced to the
        backend once the outbox takes writes again); returns the readings dropped."""
        dropped, held = 0, sum(b.readings for pending, _ in self._unstored for b in pending)
        while len(self._unstored) > 1 and held - dropped > self.settings.max_unstored_readings:
            pending, segment = self._unstored.pop(0)
            self._lost += [(b.epoch, b.seq, b.readings) for b in pending]
            dropped += sum(b.readings for b in pending)
            with contextlib.suppress(OSError):
                self.journal.discard(segment)
        if dropped:
            log.warning("outbox unwritable: dropped the oldest %d readings held in memory", dropped)
        return dropped

    # --- command actions (edge.commands.CommandActions) ---------------------------------

    def current_signer(self) -> protocol.Signer | None:
        return self.signer

    async def _remember_command(self, command_id: str, expires_at_ms: int, now_ms: int) -> bool:
        return await asyncio.to_thread(self.outbox.remember_command, command_id, expires_at_ms, now_ms)

    def set_interval(self, driver_index: int, every_s: float) -> Mapping[str, Any]:
        """Until the next restart (the config file is not rewritten)."""
        if not 0 <= driver_index < len(self.sample_every_s):
            raise CommandRefused(f"no driver {driver_index} (this gateway has {len(self.sample_every_s)})")
        previous_s, self.sample_every_s[driver_index] = self.sample_every_s[driver_index], every_s
        return {"driver_index": driver_index, "driver": self.settings.drivers[driver_index].driver,
                "every_s": every_s, "previous_every_s": previous_s}

    async def rotate_key(self) -> Mapping[str, Any]:
        """A new key pair replaces the key file (the old one kept as <key_file>.previous)."""
        if self.settings.key_file is None or self.signer is None:
            raise CommandRefused("this gateway has no key file to rotate")
        new_key = Ed25519PrivateKey.generate()
        await asyncio.to_thread(_replace_key_file, self.settings.key_file, new_key)
        previous_id, self.signer = self.signer.key_id, protocol.Signer(new_key)
        self.batcher.signer = self.signer  # batches from now on; those on disk keep the old key
        log.warning("gateway key rotated: %s -> %s; register the new public key with the backend",
                    previous_id, self.signer.key_id)
        return {"previous_key_id": previous_id, "new_key_id": self.signer.key_id,
                "new_public_key_pem": public_key_pem(new_key.public_key()).decode()}


def _replace_key_file(path, new_key: Ed25519PrivateKey) -> None:
    """Write the new key next to the old, keep the old as .previous, then swap atomically."""
    fresh = path.with_name(path.name + ".new")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_key_pem(new_key))
        out.flush()
        os.fsync(out.fileno())
    os.replace(path, path.with_name(path.name + ".previous"))
    os.replace(fresh, path)
