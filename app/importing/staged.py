"""The PostgreSQL writer: each batch goes in by COPY and out by a few set-based statements.

`COPY` moves a batch into a temporary table at a fraction of the cost of bound
parameters; the statements in app/queries/imports.py then de-duplicate it against the
tables and insert what is new, all inside the caller's transaction. The statements go
out together in pipeline mode, so a batch costs two round trips, and while PostgreSQL
works on them this thread waits without the GIL and the parser thread carries on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
from sqlalchemy.orm import Session

from app.importing.records import ImportRow
from app.importing.writer import BatchResult, import_key
from app.models import utcnow
from app.queries import imports as sql


class StagedWriter:
    """Writes batches of ImportRows into one project within the caller's transaction."""

    def __init__(self, session: Session, project_id: int, source: str, *, queue: bool) -> None:
        driver = session.connection().connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        self.conn: psycopg.Connection[Any] = driver
        self.params = {
            "project": project_id,
            "source": source,
            "now": utcnow(),
            # Whether imported labels leave their comparison in the annotators' queue: then they
            # do not count toward label_count, which the queue compares with the overlap wanted.
            "counted": not queue,
            "key_prefix": import_key(project_id, ""),
        }
        # Look the batch's pairs up before inserting; set when the last batch was mostly
        # there already, as in a re-import.
        self.find_first = False
        with self.conn.cursor() as cursor:
            for statement in sql.CREATE_STAGING:
                cursor.execute(statement)

    def write(self, rows: Sequence[ImportRow]) -> BatchResult:
        conn = self.conn
        with conn.cursor() as cursor:
            with cursor.copy(sql.COPY_ROWS) as copy:
                for staged in _first_of_each(rows):
                    copy.write_row(staged)
            # prepare=False: each batch is planned with the staging tables' current sizes.
            with conn.pipeline(), conn.cursor() as counts:
                if self.find_first:
                    cursor.execute(sql.FIND_KNOWN, self.params, prepare=False)
                for statement in sql.BATCH_STATEMENTS:
                    cursor.execute(statement, self.params, prepare=False)
                counts.execute(sql.INSERT_LABELS, self.params, prepare=False)
                if any(row.gold is not None for row in rows):
                    cursor.execute(sql.SET_GOLD, self.params, prepare=False)
                cursor.execute(sql.CLEAR_STAGING)
                result = counts.fetchone()
        assert result is not None
        created, older_labelled, missing = result
        if missing:
            # A prompt or response vanished under the import (deleted by another transaction):
            # refuse rather than report pairs as imported that are not there.
            raise RuntimeError(f"{missing} imported pairs found no comparison after writing")
        imported = created + older_labelled
        # A re-import shows itself in its first batch; the rest of the file follows suit.
        self.find_first = created * 2 < len(rows)
        return BatchResult(imported=imported, duplicates=len(rows) - imported)

    def close(self) -> None:
        """Drops the staging tables (ON COMMIT DROP would too; a test's transaction never ends)."""
        with self.conn.cursor() as cursor:
            cursor.execute(sql.DROP_STAGING)


StagedRow = tuple[
    int,
    str,
    str | None,
    str,
    str | None,
    str,
    str | None,
    str,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
]


def _first_of_each(rows: Sequence[ImportRow]) -> list[StagedRow]:
    """The batch's first row of each pair, with messages and texts on their first row only.

    A repeated pair is a duplicate of its first occurrence, whatever its label says.
    """
    pairs: set[str] = set()
    prompts: set[str] = set()
    responses: set[tuple[str, str]] = set()
    staged: list[StagedRow] = []
    for row in rows:
        if row.pair_hash in pairs:
            continue
        pairs.add(row.pair_hash)
        prompt = row.prompt_hash
        messages = None
        if prompt not in prompts:
            prompts.add(prompt)
            messages = orjson.dumps(row.messages).decode()
        text_a = text_b = name_a = name_b = None
        if (prompt, row.hash_a) not in responses:
            responses.add((prompt, row.hash_a))
            text_a, name_a = row.text_a, row.model_a
        if (prompt, row.hash_b) not in responses:
            responses.add((prompt, row.hash_b))
            text_b, name_b = row.text_b, row.model_b
        staged.append(
            (
                row.line,
                prompt,
                messages,
                row.hash_a,
                text_a,
                row.hash_b,
                text_b,
                row.pair_hash,
                row.choice.value if row.choice is not None else None,
                row.strength.value if row.strength is not None else None,
                name_a,
                name_b,
                row.gold.value if row.gold is not None else None,
            )
        )
    return staged
