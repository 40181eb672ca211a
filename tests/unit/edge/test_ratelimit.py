"""Token bucket and reconnect backoff with a fake clock."""
from __future__ import annotations

import random

import pytest

from edge.ratelimit import Backoff, TokenBucket


def test_a_burst_goes_at_once_then_the_rate_holds():
    bucket = TokenBucket(rate_per_s=10.0, burst=3, now_s=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.1)
    assert bucket.take(100.0) == pytest.approx(0.2)  # reserved: the next one waits longer


def test_replaying_a_backlog_takes_at_least_n_over_rate():
    bucket, now_s = TokenBucket(rate_per_s=50.0, burst=10, now_s=0.0), 0.0
    for _ in range(510):
        now_s += bucket.take(now_s)  # a publisher that sleeps as told
    assert now_s == pytest.approx(500 / 50.0)


def test_idle_time_refills_only_up_to_the_burst():
    bucket = TokenBucket(rate_per_s=1.0, burst=2, now_s=0.0)
    bucket.take(0.0), bucket.take(0.0)
    assert bucket.take(3600.0) == 0.0 and bucket.take(3600.0) == 0.0
    assert bucket.take(3600.0) == pytest.approx(1.0)


def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets():
    backoff = Backoff(0.5, 4.0, random.Random(1))
    delays = [backoff.next_delay_s() for _ in range(6)]
    caps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(cap / 2 <= d <= cap for d, cap in zip(delays, caps))
    backoff.reset()
    assert 0.25 <= backoff.next_delay_s() <= 0.5


def first_attempt_after(outage_s: float, backoff: Backoff) -> float:
    """A client that lost the broker at 0 waits a delay before each attempt (edge.uplink,
    backend.adapters.mqtt_ingest); a refused attempt costs nothing. When does it get back?"""
    at_s = 0.0
    while at_s < outage_s:
        at_s += backoff.next_delay_s()
    return at_s


@pytest.mark.parametrize("outage_s", [1.0, 3.0, 5.0, 6.0, 60.0])
def test_the_default_backoff_finds_the_broker_at_most_its_cap_after_it_returns(outage_s):
    from edge.config import EdgeSettings
    defaults = EdgeSettings.model_fields
    min_s, max_s = defaults["reconnect_min_s"].default, defaults["reconnect_max_s"].default
    back = [first_attempt_after(outage_s, Backoff(min_s, max_s, random.Random(seed))) for seed in range(500)]
    assert max(back) <= outage_s + max_s  # a 5 s outage: back within 6 s, well under 10
    assert max(back) - min(back) > 0.1  # jittered: a fleet does not come back in lockstep


def test_the_old_uncapped_backoff_could_leave_a_6_s_outage_unseen_for_7_5_s():
    # What issue 19 measured the cost of: delays doubling to 30 s (here at their longest).
    assert first_attempt_after(6.0, Backoff(0.5, 30.0, _Longest())) == 7.5


class _Longest(random.Random):
    def uniform(self, a, b):
        return b
