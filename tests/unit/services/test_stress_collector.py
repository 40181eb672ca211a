"""The book is valued with the cyclic collector paused, and only then."""
from __future__ import annotations

import gc

import pytest

from backend.services.stress import cyclic_gc_paused


def test_the_collector_is_paused_inside_and_back_after_even_on_an_error():
    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), cyclic_gc_paused():
        raise ValueError("a refused shock")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
