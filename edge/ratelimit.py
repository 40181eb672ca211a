"""Pacing for the uplink (pure; time comes in): a token bucket and a jittered backoff."""
from __future__ import annotations

import random


class TokenBucket:
    """`rate_per_s` tokens a second, at most `burst` saved up; one publish takes one."""

    def __init__(self, rate_per_s: float, burst: int, now_s: float) -> None:
        self.rate_per_s, self.burst = rate_per_s, burst
        self._tokens = float(burst)
        self._at_s = now_s

    def take(self, now_s: float) -> float:
        """Reserve one token; returns how long to wait before using it (0: now)."""
        elapsed_s = max(0.0, now_s - self._at_s)
        self._tokens = min(float(self.burst), self._tokens + elapsed_s * self.rate_per_s)
        self._at_s = now_s
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate_per_s


class Backoff:
    """Exponential backoff with jitter: delays in [d/2, d], d doubling from min_s to max_s."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.min_s, self.max_s = min_s, max_s
        self._rng = rng or random.Random()
        self._next_s = min_s

    def reset(self) -> None:
        self._next_s = self.min_s

    def next_delay_s(self) -> float:
        delay_s = self._next_s * self._rng.uniform(0.5, 1.0)
        self._next_s = min(self._next_s * 2, self.max_s)
        return delay_s
