"""Is the gateway's clock synced? Readings keep device time; this only flags them.

`kernel` (the default) asks the Linux kernel, as `timedatectl` and `ntptime` do: the
adjtimex(2) system call, read-only (modes = 0, no privilege needed), returns TIME_ERROR
while the clock is unsynchronised (no NTP/PTP/chrony discipline, STA_UNSYNC set). Any
time daemon that disciplines the kernel clock clears it. `synced` / `unsynced` pin the
answer (a gateway with a GPS or RTC the operator trusts; tests; the demo).
"""
from __future__ import annotations

import ctypes
import time
from typing import Callable, Literal

ClockSource = Literal["kernel", "synced", "unsynced"]
TIME_ERROR = 5  # adjtimex(2): clock not synchronised
_RECHECK_S = 10.0  # the kernel's answer changes slowly; one syscall per 10 s is plenty


class _Timex(ctypes.Structure):
    # struct timex starts with `unsigned int modes`; the kernel writes the rest (< 256 bytes).
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 256)]


def kernel_clock_synced() -> bool:
    """False when the kernel says the clock is unsynchronised, or when it cannot be asked."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        state = libc.adjtimex(ctypes.byref(_Timex()))
    except (OSError, AttributeError):  # not Linux
        return False
    return state not in (-1, TIME_ERROR)


class ClockStatus:
    """The current answer for one source, rechecked at most every 10 s."""

    def __init__(self, source: ClockSource, ask_kernel: Callable[[], bool] = kernel_clock_synced,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.source, self._ask_kernel, self._monotonic = source, ask_kernel, monotonic
        self._checked_at: float | None = None
        self._synced = source == "synced"

    def synced(self) -> bool:
        if self.source != "kernel":
            return self._synced
        now = self._monotonic()
        if self._checked_at is None or now - self._checked_at >= _RECHECK_S:
            self._synced, self._checked_at = self._ask_kernel(), now
        return self._synced
