"""Numbered lines from a binary stream, without ever holding more than one line in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

# A prompt of many long turns fits well within this; anything larger is a mistake, not data.
MAX_LINE_BYTES = 4_000_000
_SKIP_CHUNK = 1 << 20


class ReadsLines(Protocol):
    """A binary file, a gzip stream, a spooled request body: anything with readline."""

    def readline(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class OversizedLine:
    """A line over the limit: only its size is known, its bytes were never kept."""

    size: int


def numbered_lines(
    stream: ReadsLines, max_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes | OversizedLine]]:
    """(line number from 1, line without its newline) for every line that is not blank."""
    number = 0
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        number += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            yield number, OversizedLine(_skip_rest(stream, len(line)))
            continue
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield number, line


def _skip_rest(stream: ReadsLines, size: int) -> int:
    """Reads past the end of an oversized line in bounded chunks; returns its full size."""
    while True:
        chunk = stream.readline(_SKIP_CHUNK)
        size += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return size


class DecompressedTooLarge(Exception):
    """A compressed body expanded past the import size limit."""


class BoundedReader:
    """Caps what a decompressing reader yields: a small gzip body must not become endless work."""

    def __init__(self, inner: ReadsLines, limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self.read_bytes = 0

    def readline(self, size: int = -1, /) -> bytes:
        line = self.inner.readline(size)
        self.read_bytes += len(line)
        if self.read_bytes > self.limit:
            raise DecompressedTooLarge(self.limit)
        return line
