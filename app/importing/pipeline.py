"""An import from first line to last: parse, validate and write in one transaction, or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app.importing.lines import ReadsLines
from app.importing.parsers import ImportFormat
from app.importing.reader import LineProblem, ParsedBatches
from app.importing.staged import StagedWriter
from app.importing.writer import BatchWriter, BulkWriter
from app.queries.content import lock_project_content

# Rows per write on SQLite, whose writer does its own Python work per batch.
BATCH_ROWS = 2000
# Rows per staged write on PostgreSQL: large enough that per-statement costs vanish, small
# enough that its sorts stay in memory and the parser is never far ahead.
STAGED_BATCH_ROWS = 5000
# Batches the parser may have ready while the writer waits on the database. The parser
# makes a batch several times faster than PostgreSQL writes one, so one keeps the writer
# busy; each more would only hold another batch in memory.
BATCHES_AHEAD = 1

__all__ = ["ImportRejected", "ImportSummary", "LineProblem", "import_preferences"]


@dataclass
class ImportSummary:
    imported: int = 0
    duplicates: int = 0
    # Lines that hold no comparison; the first MAX_REPORTED of them are listed.
    skipped: list[LineProblem] = field(default_factory=list)
    skipped_total: int = 0
    skipped_kinds: dict[str, int] = field(default_factory=dict)


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
    batch_rows: int | None = None,
) -> ImportSummary:
    """Imports JSON Lines into the project within the session's transaction.

    Raises ImportRejected after reading the whole stream if any line was bad; the rows
    written by then are in the caller's transaction, which must roll back. Writing as we
    parse (instead of validating the whole file first) needs one pass and no spool file;
    after the first bad line nothing more is written, only validated.
    """
    source = f"import:{fmt.value}"
    # Concurrent imports into the project (or generation) wait for this one: writing the same
    # content in different orders, they would deadlock (see lock_project_content).
    lock_project_content(session, project_id)
    writer: BatchWriter
    if session.get_bind().dialect.name == "postgresql":
        writer = StagedWriter(session, project_id, source, queue=queue)
        rows = batch_rows or STAGED_BATCH_ROWS
    else:
        writer = BulkWriter(session, project_id, source, queue=queue)
        rows = batch_rows or BATCH_ROWS
    summary = ImportSummary()
    with ParsedBatches(stream, fmt, batch_rows=rows, ahead=BATCHES_AHEAD) as batches:
        for batch in batches:
            result = writer.write(batch)
            summary.imported += result.imported
            summary.duplicates += result.duplicates
    writer.close()
    outcome = batches.outcome
    if outcome.bad:
        problems = outcome.problems
        if outcome.bad > len(problems):
            problems.append(
                LineProblem(
                    problems[-1].line,
                    f"... and {outcome.bad - len(problems)} more bad lines not listed",
                )
            )
        raise ImportRejected(problems, outcome.bad)
    summary.skipped, summary.skipped_total = outcome.skipped, outcome.skipped_total
    summary.skipped_kinds = outcome.skipped_kinds
    return summary
