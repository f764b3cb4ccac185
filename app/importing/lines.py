"""Numbered lines from a binary stream, without ever holding more than one line in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# A prompt of many long turns fits well within this; anything larger is a mistake, not data.
MAX_LINE_BYTES = 4_000_000
_SKIP_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class OversizedLine:
    """A line over the limit: only its size is known, its bytes were never kept."""

    size: int


def numbered_lines(
    stream: BinaryIO, max_bytes: int = MAX_LINE_BYTES
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


def _skip_rest(stream: BinaryIO, size: int) -> int:
    """Reads past the end of an oversized line in bounded chunks; returns its full size."""
    while True:
        chunk = stream.readline(_SKIP_CHUNK)
        size += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return size
