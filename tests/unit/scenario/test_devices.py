"""The simulated reader's shortcuts keep its odds and follow the goods."""
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.scenario.devices import SampledReader, WeighedLot, gauss_noise
from firmware_sim.models import round_hundredths


def reader(seed: int = 1) -> SampledReader:
    return SampledReader(WeighedLot.of_items("E2000001", 40, 1000.0), random.Random(seed), 0.97)


def test_rounds_missing_the_same_tag_share_one_set():
    device = reader()
    by_missed = {}
    for n in range(400):
        epcs = device.read_round(n * 60).epcs
        missed = device.lot.items.keys() - epcs
        if len(missed) == 1:
            assert by_missed.setdefault(frozenset(missed), epcs) is epcs


def test_removed_items_are_never_read_again():
    device = reader()
    for n in range(50):
        device.read_round(n * 60)
    gone = set(device.lot.remove(4))
    device.changed()
    rounds = [device.read_round(3000 + n * 60).epcs for n in range(200)]
    assert all(gone.isdisjoint(epcs) for epcs in rounds)
    assert any(len(epcs) == 36 for epcs in rounds)


def test_the_read_rate_is_kept():
    device = reader(7)
    reads = sum(len(device.read_round(n * 60).epcs) for n in range(2000))
    assert abs(reads / (2000 * 40) - 0.97) < 0.002


def test_a_reader_given_the_lots_order_reads_the_same_tags_from_the_same_stream():
    by_name = reader(3)
    goods = WeighedLot.of_items("E2000001", 40, 1000.0)
    in_order = SampledReader(goods, random.Random(3), 0.97, tuple(sorted(goods.items)))
    for reader_ in (by_name, in_order):
        reader_.extra_epcs.update({"E2000009000000000000000A", "E2000009000000000000000B"})
        reader_.changed()
    rounds = [(by_name.read_round(n * 60), in_order.read_round(n * 60)) for n in range(2000)]
    assert all(a.epcs == b.epcs for a, b in rounds)
    assert all(b.named <= {"E2000009000000000000000A", "E2000009000000000000000B"}
               for _, b in rounds)
    assert any(b.bits and b.named for _, b in rounds)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.floats(allow_nan=False), st.floats(-100, 100),
                 st.integers(-10**7, 10**7).map(lambda n: n / 200),          # half-hundredths
                 st.integers(-10**7, 10**7).map(lambda n: math.nextafter(n / 200, 0))))
def test_round_hundredths_is_round_to_two_places(value):
    assert math.copysign(1, round_hundredths(value)) == math.copysign(1, round(value, 2))
    assert round_hundredths(value) == round(value, 2)


def test_block_drawn_noise_is_what_the_devices_rng_would_draw():
    for seed, sigma in (("0/lot-3/scale", 0.0005), ("7/lot-1/probe", 0.2)):
        noise = gauss_noise(random.Random(seed), sigma, block=100)
        rng = random.Random(seed)
        assert [noise() for _ in range(1001)] == [rng.gauss(0.0, sigma) for _ in range(1001)]
    half_drawn = random.Random(5)
    half_drawn.gauss()                         # keeps the second value of its pair
    noise = gauss_noise(half_drawn, 1.0)
    assert [noise() for _ in range(11)] == [half_drawn.gauss(0.0, 1.0) for _ in range(11)]
