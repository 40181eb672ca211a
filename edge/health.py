"""The agent's own health: storage that fails (disk full, read-only, I/O error) and loops
that stop making progress.

StorageHealth logs one line when writes start failing and one when they work again (not
one per failed write), and keeps the metrics. The Watchdog is an OS thread, so it still
runs when the event loop is stuck: a loop that has not reported progress within its
allowance makes the process exit with WATCHDOG_EXIT, for its supervisor to restart it.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

from edge.metrics import EdgeMetrics

log = logging.getLogger("pledgewatch.edge.health")

WATCHDOG_EXIT = 3


class StorageHealth:
    def __init__(self, metrics: EdgeMetrics) -> None:
        self.metrics = metrics
        self._failing_since: float | None = None
        self._lock = threading.Lock()

    @property
    def ok(self) -> bool:
        return self._failing_since is None

    def failed(self, what: str, exc: BaseException) -> None:
        self.metrics.storage_errors.inc()
        with self._lock:
            first, self._failing_since = self._failing_since is None, self._failing_since or time.monotonic()
        self.metrics.storage_ok.set(0)
        if first:
            log.error("state_dir storage failing (%s: %s): readings are kept in memory, newest first, "
                      "the oldest dropped and counted beyond the limit; retrying every few seconds",
                      what, exc)

    def recovered(self) -> None:
        with self._lock:
            since, self._failing_since = self._failing_since, None
        self.metrics.storage_ok.set(1)
        if since is not None:
            log.warning("state_dir storage writable again after %.1f s", time.monotonic() - since)


class Watchdog:
    def __init__(self, on_stall: Callable[[str, float], None], every_s: float = 1.0) -> None:
        self.on_stall = on_stall
        self.every_s = every_s
        self._beats: dict[str, tuple[float, float]] = {}  # loop -> (last progress, allowance s)
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)

    def beat(self, loop: str, allowance_s: float) -> None:
        """`loop` made progress now; it must again within `allowance_s`."""
        self._beats[loop] = (time.monotonic(), allowance_s)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()

    def _watch(self) -> None:
        while not self._halt.wait(self.every_s):
            now = time.monotonic()
            for loop, (at, allowance_s) in list(self._beats.items()):
                if now - at > allowance_s:
                    self.on_stall(loop, now - at)
                    return


def log_stall(loop: str, stalled_s: float) -> None:
    """For an agent inside another program (tests, an embedding): say it, never exit the host."""
    log.critical("watchdog: the %s loop made no progress for %.0f s", loop, stalled_s)


def exit_for_restart(loop: str, stalled_s: float) -> None:
    """For the agent's own process (`pledgewatch edge`): exit, so its supervisor restarts it."""
    log.critical("watchdog: the %s loop made no progress for %.0f s; exiting (status %d) "
                 "for the supervisor to restart the agent", loop, stalled_s, WATCHDOG_EXIT)
    logging.shutdown()
    os._exit(WATCHDOG_EXIT)  # a stuck event loop cannot be cancelled cleanly
