"""Parsing in a thread of its own, a few batches ahead of the writer.

The writer spends most of its time waiting on the database, with the GIL released; the
parser (pure Python) fills that time. At most `ahead` batches wait in the queue, so
memory stays flat whatever the file's length.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType

from app.importing.lines import MAX_LINE_BYTES, OversizedLine, ReadsLines, numbered_lines
from app.importing.parsers import ImportFormat, parse_line
from app.importing.records import ImportRow, LineError, SkipLine, to_row

# Enough to fix a file by; a file that is wrong on every line would otherwise make a huge answer.
MAX_REPORTED = 1000
_POLL_S = 0.1


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str
    # A skipped line's SkipKind; None for a bad line.
    kind: str | None = None


@dataclass
class ReadOutcome:
    """What the parser found besides the rows; complete once the batches are exhausted."""

    problems: list[LineProblem] = field(default_factory=list)
    bad: int = 0
    skipped: list[LineProblem] = field(default_factory=list)
    skipped_total: int = 0
    # Skipped lines per SkipKind, all of them (the list above holds the first MAX_REPORTED).
    skipped_kinds: dict[str, int] = field(default_factory=dict)


class _Done:
    """Sentinel: the parser reached the end of the stream."""


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_Item = list[ImportRow] | _Done | _Failed


class ParsedBatches:
    """Iterates over batches of valid rows, parsed by a background thread.

    After the first bad line no more batches are produced (nothing more may be written)
    but the rest of the stream is still validated, so that every bad line is reported.
    An exception in the parser (a gzip error, a body past the size limit) is raised by
    the iteration; leaving the `with` block early stops the parser.
    """

    def __init__(
        self, stream: ReadsLines, fmt: ImportFormat, *, batch_rows: int, ahead: int
    ) -> None:
        self.stream, self.fmt, self.batch_rows = stream, fmt, batch_rows
        self.outcome = ReadOutcome()
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="import-parser", daemon=True)

    def __enter__(self) -> ParsedBatches:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def __iter__(self) -> Iterator[list[ImportRow]]:
        while True:
            item = self._queue.get()
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def _put(self, item: _Item) -> bool:
        """False when the consumer has gone away."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            self._parse()
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(_Failed(exc))

    def _parse(self) -> None:
        outcome, fmt = self.outcome, self.fmt
        batch: list[ImportRow] = []
        for number, line in numbered_lines(self.stream):
            try:
                if isinstance(line, OversizedLine):
                    raise LineError(f"line has {line.size} bytes; at most {MAX_LINE_BYTES}")
                row = to_row(number, parse_line(fmt, line))
            except LineError as exc:
                outcome.bad += 1
                if len(outcome.problems) < MAX_REPORTED:
                    outcome.problems.append(LineProblem(number, str(exc)))
                batch = []
                continue
            except SkipLine as exc:
                outcome.skipped_total += 1
                kinds = outcome.skipped_kinds
                kinds[exc.kind.value] = kinds.get(exc.kind.value, 0) + 1
                if len(outcome.skipped) < MAX_REPORTED:
                    outcome.skipped.append(LineProblem(number, str(exc), exc.kind.value))
                continue
            if outcome.bad:
                continue
            batch.append(row)
            if len(batch) >= self.batch_rows:
                if not self._put(batch):
                    return
                batch = []
            if self._stop.is_set():
                return
        if batch and not outcome.bad and not self._put(batch):
            return
        self._put(_Done())
