"""Zips of photos, streamed: one photo in memory at a time, whatever the archive's size."""

from __future__ import annotations

import functools
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from pathlib import PurePath

from core.storage import Storage


class _Sink(io.RawIOBase):
    """A write-only, unseekable file: zipfile then writes data descriptors and streams."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def entry_name(filename: str) -> str:
    """The last part of a name, cut at either separator (a name from Windows keeps its
    backslashes here), without control characters; never "." or "..", never empty."""
    name = re.split(r"[\\/]", filename)[-1]
    name = "".join(c for c in name if unicodedata.category(c) != "Cc").strip()
    return "photo" if name in ("", ".", "..") else name


def archive_names(filenames: list[str]) -> list[str]:
    """File names for the zip, unique, with a counter before the extension of repeats;
    each one a plain name that unpacks where the zip is unpacked, on any system."""
    seen: dict[str, int] = {}
    names = []
    for filename in filenames:
        name = entry_name(filename)
        count = seen.get(name.lower(), 0)
        seen[name.lower()] = count + 1
        if count:
            path = PurePath(name)
            name = f"{path.stem}-{count + 1}{path.suffix}"
        names.append(name)
    return names


ArchiveEntry = tuple[str, Callable[[], bytes]]
"""A file of a zip: its name, and a call that reads its bytes when the zip reaches it."""


def stream_archive(entries: list[ArchiveEntry]) -> Iterator[bytes]:
    """A zip of (name, the file's bytes when called) entries, one photo in memory at a time.

    Photos are stored, not deflated: JPEGs do not compress, and the CPU is
    better spent elsewhere.
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, read in entries:
            try:
                data = read()
            except FileNotFoundError:
                continue  # deleted since the list was read
            archive.writestr(name, data)
            yield sink.take()
    yield sink.take()


def stored(storage: Storage, key: str) -> Callable[[], bytes]:
    """An entry's bytes: the file at `key`, read when the zip reaches it."""
    return functools.partial(storage.get, key)
