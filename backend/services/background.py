"""A service's background loop: a named daemon thread that runs one round, then waits the
seconds the round asks for (or its period), and runs again at once when woken."""
from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

log = logging.getLogger("pledgewatch.background")


class WakeableLoop(ABC):
    """Subclasses define `round()`; it returns how long to wait before the next one (None:
    `every_s`). A round that raises is logged and the loop goes on: the database may be back
    next time. With `wait_first` the first round waits a period (a monitor ticks after start)."""

    def __init__(self, *, name: str, every_s: float, wait_first: bool = False) -> None:
        self.name, self.every_s, self.wait_first = name, every_s, wait_first
        self._stop, self._wake = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @abstractmethod
    def round(self) -> float | None:
        """One round of the loop's work; how long to wait before the next (None: `every_s`)."""

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def _run(self) -> None:
        wait_s = self.every_s if self.wait_first else 0.0
        while True:
            self._wake.wait(wait_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                next_s = self.round()
            except Exception:
                log.exception("%s round failed", self.name)
                next_s = None
            wait_s = self.every_s if next_s is None else next_s
