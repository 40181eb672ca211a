"""Dispute packs as zip files (PackWriter for export, PackReader for verify). A streamed file
(the envelopes: most of the pack) is stored as is, for speed; the rest is deflated."""
from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, BinaryIO


class ZipPackWriter:
    def __init__(self, target: Path | BinaryIO) -> None:
        self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)

    def write(self, name: str, data: bytes) -> None:
        self._zip.writestr(name, data)

    def write_chunks(self, name: str, chunks: Iterable[bytes]) -> None:
        info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        with self._zip.open(info, "w", force_zip64=True) as stream:
            for chunk in chunks:
                stream.write(chunk)

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> ZipPackWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ZipPackReader:
    def __init__(self, source: Path | BinaryIO) -> None:
        self._zip = zipfile.ZipFile(source)

    def names(self) -> set[str]:
        return set(self._zip.namelist())

    def read(self, name: str) -> bytes:
        return self._zip.read(name)

    def open(self, name: str) -> IO[bytes]:
        return self._zip.open(name)

    def close(self) -> None:
        self._zip.close()
