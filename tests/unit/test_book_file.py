"""The book file start-up reads: the demo book (a whole scenario) loads, a bad one names its line."""
from pathlib import Path

import pytest

from backend.book.build import opening_prices, registry_from_book
from backend.book.model import Book, load_book, parse_book
from backend.book.strict_yaml import BookFileError
from backend.scenario.model import Scenario, load_scenario

DEMO = Path(__file__).resolve().parents[2] / "seeds" / "demo.yaml"


def test_the_demo_book_builds_the_registry_with_its_loans_pledged():
    book = load_book(DEMO)
    registry = registry_from_book(book)
    assert registry.loans["loan-river-1"].lot_ids == ("lot-qd-1", "lot-qd-2")
    assert len(registry.lots["lot-sh-1"].items) == 40
    assert {s.id: s.kind for s in registry.sensors.values() if s.lot_id == "lot-nb-1"} \
        == {"lot-nb-1-scale": "scale", "lot-nb-1-rfid": "rfid", "lot-nb-1-temp": "temperature"}
    assert registry.lots["lot-sh-1"].probe_id is None          # steel, not perishable: no probe
    assert [(m.commodity_id, m.price) for m in opening_prices(book)][0] == ("steel_coil", 4000)


def test_a_scenario_reads_the_same_book_as_start_up():
    scenario, _ = load_scenario(DEMO)
    assert Book(**{key: getattr(scenario, key) for key in Book.model_fields}) == load_book(DEMO)


def test_a_scenario_declares_the_book_keys_as_the_book_does():
    for key, field in Book.model_fields.items():
        declared = Scenario.model_fields[key]
        assert (declared.annotation, declared.default) == (field.annotation, field.default), key


def test_an_unknown_key_is_named_with_its_line():
    text = DEMO.read_text().replace("seed: 7", "seed: 7\ncolour: blue")
    line = text.splitlines().index("colour: blue") + 1
    with pytest.raises(BookFileError, match=rf"^book.yaml:{line}: colour: unknown key 'colour'$"):
        parse_book(text, "book.yaml")


def test_a_bad_duration_and_a_key_written_twice_are_refused():
    with pytest.raises(BookFileError, match=r"cure_period: bad duration '2 days'"):
        parse_book(DEMO.read_text().replace("cure_period: 12h", "cure_period: 2 days"), "book.yaml")
    with pytest.raises(BookFileError, match=r"^book.yaml: line \d+: key 'seed' appears twice$"):
        parse_book(DEMO.read_text().replace("seed: 7", "seed: 7\nseed: 8"), "book.yaml")
