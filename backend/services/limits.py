"""Request limits (pure; time comes in): a token bucket per API key, and a throttle on
clients that keep presenting bad keys."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    at_s: float


class RateLimiter:
    """`rate_per_s` requests a second per key, bursts up to `burst`."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate_per_s, self.burst = rate_per_s, burst
        self._buckets: dict[str, _Bucket] = {}

    def retry_after_s(self, key: str, now_s: float) -> float:
        """0 and one token spent when allowed; else how long until a token is there."""
        bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now_s))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now_s - bucket.at_s) * self.rate_per_s)
        bucket.at_s = now_s
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate_per_s


@dataclass
class FailureThrottle:
    """After `max_failures` bad keys within `window_s`, a client waits out the window."""

    max_failures: int
    window_s: float
    _failures: dict[str, deque] = field(default_factory=dict)

    def _recent(self, client: str, now_s: float) -> deque:
        times = self._failures.setdefault(client, deque())
        while times and now_s - times[0] > self.window_s:
            times.popleft()
        return times

    def retry_after_s(self, client: str, now_s: float) -> float:
        times = self._recent(client, now_s)
        if len(times) < self.max_failures:
            return 0.0
        return max(0.0, times[0] + self.window_s - now_s)

    def failed(self, client: str, now_s: float) -> None:
        self._recent(client, now_s).append(now_s)
