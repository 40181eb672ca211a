"""Durations as written in book and scenario files: `90s`, `30m`, `2h`, `1d`, `1h30m`."""
from __future__ import annotations

import re

_UNIT_S = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([dhms])")
_WHOLE = re.compile(r"-?(?:\d+[dhms])+")


def parse_duration(text: object, signed: bool = False) -> int:
    """Seconds in a duration string; raises ValueError naming what is wrong."""
    if not isinstance(text, str) or not _WHOLE.fullmatch(text.strip()):
        raise ValueError(f"bad duration {text!r}: expected a string like 90s, 30m, 2h, 1d, 1h30m")
    text = text.strip()
    negative = text.startswith("-")
    if negative and not signed:
        raise ValueError(f"bad duration {text!r}: must not be negative")
    units = [unit for _, unit in _PART.findall(text)]
    if len(set(units)) != len(units):
        raise ValueError(f"bad duration {text!r}: a unit appears twice")
    seconds = sum(int(amount) * _UNIT_S[unit] for amount, unit in _PART.findall(text))
    return -seconds if negative else seconds

