"""Polling helper shared by tests that wait on real processes (tests/ is on sys.path)."""
from __future__ import annotations

import time


def wait_for(condition, timeout_s: float, every_s: float = 0.05) -> bool:
    """True as soon as `condition()` holds; False once `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every_s)
    return True
