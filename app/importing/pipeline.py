"""An import from first line to last: parse, validate and write in one transaction, or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app.importing.lines import MAX_LINE_BYTES, OversizedLine, ReadsLines, numbered_lines
from app.importing.parsers import ImportFormat, parse_line
from app.importing.records import ImportRow, LineError, SkipLine, to_row
from app.importing.writer import BulkWriter

BATCH_ROWS = 2000
# Enough to fix a file by; a file that is wrong on every line would otherwise make a huge answer.
MAX_REPORTED = 1000


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str


@dataclass
class ImportSummary:
    imported: int = 0
    duplicates: int = 0
    # Lines that hold no comparison; the first MAX_REPORTED of them are listed.
    skipped: list[LineProblem] = field(default_factory=list)
    skipped_total: int = 0


class ImportRejected(Exception):
    """Bad lines: the caller rolls the transaction back; `problems` lists them by line."""

    def __init__(self, problems: list[LineProblem], total: int) -> None:
        super().__init__(f"{total} bad lines")
        self.problems = problems
        self.total = total


def import_preferences(
    session: Session,
    project_id: int,
    stream: ReadsLines,
    fmt: ImportFormat,
    *,
    queue: bool = False,
    batch_rows: int = BATCH_ROWS,
) -> ImportSummary:
    """Imports JSON Lines into the project within the session's transaction.

    Raises ImportRejected after reading the whole stream if any line was bad; the rows
    written by then are in the caller's transaction, which must roll back. Writing as we
    parse (instead of validating the whole file first) needs one pass and no spool file;
    after the first bad line nothing more is written, only validated.
    """
    writer = BulkWriter(session, project_id, f"import:{fmt.value}", queue=queue)
    summary = ImportSummary()
    problems: list[LineProblem] = []
    bad = 0
    batch: list[ImportRow] = []
    for number, line in numbered_lines(stream):
        try:
            if isinstance(line, OversizedLine):
                raise LineError(f"line has {line.size} bytes; at most {MAX_LINE_BYTES}")
            row = to_row(number, parse_line(fmt, line))
        except LineError as exc:
            bad += 1
            if len(problems) < MAX_REPORTED:
                problems.append(LineProblem(number, str(exc)))
            batch.clear()
            continue
        except SkipLine as exc:
            summary.skipped_total += 1
            if len(summary.skipped) < MAX_REPORTED:
                summary.skipped.append(LineProblem(number, str(exc)))
            continue
        if bad:
            continue
        batch.append(row)
        if len(batch) >= batch_rows:
            _flush(writer, batch, summary)
    if bad:
        if bad > len(problems):
            problems.append(
                LineProblem(
                    problems[-1].line, f"... and {bad - len(problems)} more bad lines not listed"
                )
            )
        raise ImportRejected(problems, bad)
    _flush(writer, batch, summary)
    return summary


def _flush(writer: BulkWriter, batch: list[ImportRow], summary: ImportSummary) -> None:
    if batch:
        result = writer.write(batch)
        summary.imported += result.imported
        summary.duplicates += result.duplicates
        batch.clear()
