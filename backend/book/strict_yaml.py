"""YAML read strictly (a key written twice is an error) and errors located by file line.

Shared by the book file and the scenario file, which embeds a book: both name the file,
the line and the dotted key of the first thing wrong.
"""
from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError


class BookFileError(Exception):
    """The file is wrong; the message names the line or key."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """Refuses a key written twice in one mapping (PyYAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise BookFileError(
                    f"line {key_node.start_mark.line + 1}: key {key!r} appears twice")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str, path: str) -> tuple[Any, yaml.Node | None]:
    """The document and its YAML tree (for line numbers)."""
    try:
        root = yaml.compose(text, Loader=_UniqueKeyLoader)
        return yaml.load(text, Loader=_UniqueKeyLoader), root
    except BookFileError as exc:
        raise BookFileError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise BookFileError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from exc


def line_of(root: yaml.Node | None, loc: tuple) -> int | None:
    """The 1-based line of the node at `loc` (as deep as the file goes)."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def dotted(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def located(path: str, root: yaml.Node | None, loc: tuple, message: str) -> str:
    """`path:line: key: message`, as much of it as is known."""
    line = line_of(root, loc)
    where = f"{path}:{line}" if line else path
    return f"{where}: {dotted(loc)}: {message}" if loc else f"{where}: {message}"


def first_error(error: ValidationError) -> tuple[tuple, str]:
    """(location, message) of the one error worth reporting."""
    # An unknown key explains more than the "missing" errors a misspelt key also causes.
    detail = min(error.errors(), key=lambda d: d["type"] != "extra_forbidden")
    loc = tuple(detail["loc"])
    message = detail["msg"].removeprefix("Value error, ")
    if detail["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
    return loc, message
