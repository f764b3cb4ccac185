"""Set-at-a-time lookups and inserts of prompts, responses, comparisons and labels.

Two implementations of one interface. SQLite takes multi-row INSERT ... VALUES through
SQLAlchemy Core. On PostgreSQL a statement with thousands of placeholders spends longer
in the driver's query parsing than in the server, and text arrays are quoted element by
element in Python, so the rows travel as one JSON document (encoded by orjson, in C) that
the statement reads back with `json_to_recordset`: a few parameters, any row count.
Inserts are ON CONFLICT DO NOTHING and return what they inserted; the writer looks up
the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import Table, TextClause, select, text, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from app.models import Comparison, Label, Prompt, Response

PROMPTS: Table = Prompt.__table__  # type: ignore[assignment]
RESPONSES: Table = Response.__table__  # type: ignore[assignment]
COMPARISONS: Table = Comparison.__table__  # type: ignore[assignment]
LABELS: Table = Label.__table__  # type: ignore[assignment]

# (prompt id, response A id, response B id, pair hash, label count)
NewComparison = tuple[int, int, int, str, int]
# (comparison id, choice, strength, idempotency key)
NewLabel = tuple[int, str, str | None, str]


class Store(Protocol):
    def find_prompts(self, hashes: Sequence[str]) -> dict[str, int]: ...
    def insert_prompts(
        self, rows: Sequence[tuple[str, list[dict[str, str]]]]
    ) -> dict[str, int]: ...
    def find_responses(self, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]: ...
    def insert_responses(
        self, rows: Sequence[tuple[int, str, str]]
    ) -> dict[tuple[int, str], int]: ...
    def find_comparisons(self, hashes: Sequence[str]) -> dict[str, tuple[int, int]]: ...
    def insert_comparisons(self, rows: Sequence[NewComparison]) -> dict[str, tuple[int, int]]: ...
    def insert_labels(self, rows: Sequence[NewLabel]) -> set[int]: ...
    def count_labels(self, comparison_ids: Sequence[int]) -> None: ...


def make_store(session: Session, project_id: int, source: str, now: datetime) -> Store:
    if session.get_bind().dialect.name == "postgresql":
        return PostgresStore(session, project_id, source, now)
    return CoreStore(session, project_id, source, now)


class CoreStore:
    """Portable SQLAlchemy Core statements (used on SQLite)."""

    def __init__(self, session: Session, project_id: int, source: str, now: datetime) -> None:
        self.session, self.project_id, self.source, self.now = session, project_id, source, now

    def _insert(self, table: Table) -> Any:
        return sqlite.insert(table).on_conflict_do_nothing()

    def find_prompts(self, hashes: Sequence[str]) -> dict[str, int]:
        rows = self.session.execute(
            select(PROMPTS.c.content_hash, PROMPTS.c.id).where(
                PROMPTS.c.project_id == self.project_id, PROMPTS.c.content_hash.in_(hashes)
            )
        )
        return {digest: pid for digest, pid in rows}

    def insert_prompts(self, rows: Sequence[tuple[str, list[dict[str, str]]]]) -> dict[str, int]:
        values = [
            {
                "project_id": self.project_id,
                "messages": messages,
                "content_hash": digest,
                "source": self.source,
                "created_at": self.now,
            }
            for digest, messages in rows
        ]
        stmt = self._insert(PROMPTS).returning(PROMPTS.c.content_hash, PROMPTS.c.id)
        return {digest: pid for digest, pid in self.session.execute(stmt, values)}

    def find_responses(self, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]:
        rows = self.session.execute(
            select(RESPONSES.c.prompt_id, RESPONSES.c.content_hash, RESPONSES.c.id).where(
                tuple_(RESPONSES.c.prompt_id, RESPONSES.c.content_hash).in_(keys)
            )
        )
        return {(pid, digest): rid for pid, digest, rid in rows}

    def insert_responses(self, rows: Sequence[tuple[int, str, str]]) -> dict[tuple[int, str], int]:
        values = [
            {
                "prompt_id": prompt_id,
                "text": body,
                "content_hash": digest,
                "source": self.source,
                "created_at": self.now,
            }
            for prompt_id, digest, body in rows
        ]
        stmt = self._insert(RESPONSES).returning(
            RESPONSES.c.prompt_id, RESPONSES.c.content_hash, RESPONSES.c.id
        )
        return {(pid, digest): rid for pid, digest, rid in self.session.execute(stmt, values)}

    def find_comparisons(self, hashes: Sequence[str]) -> dict[str, tuple[int, int]]:
        rows = self.session.execute(
            select(COMPARISONS.c.pair_hash, COMPARISONS.c.id, COMPARISONS.c.response_a_id).where(
                COMPARISONS.c.project_id == self.project_id, COMPARISONS.c.pair_hash.in_(hashes)
            )
        )
        return {digest: (cid, a_id) for digest, cid, a_id in rows}

    def insert_comparisons(self, rows: Sequence[NewComparison]) -> dict[str, tuple[int, int]]:
        values = [
            {
                "project_id": self.project_id,
                "prompt_id": prompt_id,
                "response_a_id": a_id,
                "response_b_id": b_id,
                "pair_hash": digest,
                "priority": 0,
                "source": self.source,
                "label_count": label_count,
                "created_at": self.now,
            }
            for prompt_id, a_id, b_id, digest, label_count in rows
        ]
        stmt = self._insert(COMPARISONS).returning(
            COMPARISONS.c.pair_hash, COMPARISONS.c.id, COMPARISONS.c.response_a_id
        )
        return {digest: (cid, a_id) for digest, cid, a_id in self.session.execute(stmt, values)}

    def insert_labels(self, rows: Sequence[NewLabel]) -> set[int]:
        values = [
            {
                "comparison_id": comparison_id,
                "annotator_id": None,
                "source": self.source,
                "choice": choice,
                "strength": strength,
                "feedback": "",
                "flag_harmful": False,
                "flag_untrue": False,
                "flag_unhelpful": False,
                "shown_swapped": False,
                "time_spent_ms": None,
                "idempotency_key": key,
                "created_at": self.now,
            }
            for comparison_id, choice, strength, key in rows
        ]
        stmt = self._insert(LABELS).returning(LABELS.c.comparison_id)
        return {cid for (cid,) in self.session.execute(stmt, values)}

    def count_labels(self, comparison_ids: Sequence[int]) -> None:
        self.session.execute(
            update(COMPARISONS)
            .where(COMPARISONS.c.id.in_(comparison_ids))
            .values(label_count=COMPARISONS.c.label_count + 1)
        )


def _sql(statement: str) -> TextClause:
    return text(statement)


# Lookups probe the unique index once per key (LATERAL): within a long import the planner's
# statistics still say the project is small, and a plain join or IN then scans all of it
# for every batch, which makes an import quadratic.
_PG_FIND_PROMPTS = _sql(
    "SELECT p.content_hash, p.id FROM json_array_elements_text(CAST(:hashes AS JSON)) AS t(h)"
    " CROSS JOIN LATERAL (SELECT content_hash, id FROM prompts"
    " WHERE project_id = :project AND content_hash = t.h) AS p"
)
_PG_INSERT_PROMPTS = _sql(
    "INSERT INTO prompts (project_id, messages, content_hash, source, created_at)"
    " SELECT :project, CAST(t.m AS JSONB), t.h, :source, :now"
    " FROM json_to_recordset(CAST(:rows AS JSON)) AS t(m JSON, h TEXT)"
    " ON CONFLICT DO NOTHING RETURNING content_hash, id"
)
_PG_FIND_RESPONSES = _sql(
    "SELECT r.prompt_id, r.content_hash, r.id"
    " FROM json_to_recordset(CAST(:rows AS JSON)) AS t(p INTEGER, h TEXT)"
    " CROSS JOIN LATERAL (SELECT prompt_id, content_hash, id FROM responses"
    " WHERE prompt_id = t.p AND content_hash = t.h) AS r"
)
_PG_INSERT_RESPONSES = _sql(
    "INSERT INTO responses (prompt_id, text, content_hash, source, created_at)"
    " SELECT t.p, t.x, t.h, :source, :now"
    " FROM json_to_recordset(CAST(:rows AS JSON)) AS t(p INTEGER, x TEXT, h TEXT)"
    " ON CONFLICT DO NOTHING RETURNING prompt_id, content_hash, id"
)
_PG_FIND_COMPARISONS = _sql(
    "SELECT c.pair_hash, c.id, c.response_a_id"
    " FROM json_array_elements_text(CAST(:hashes AS JSON)) AS t(h)"
    " CROSS JOIN LATERAL (SELECT pair_hash, id, response_a_id FROM comparisons"
    " WHERE project_id = :project AND pair_hash = t.h) AS c"
)
_PG_INSERT_COMPARISONS = _sql(
    "INSERT INTO comparisons (project_id, prompt_id, response_a_id, response_b_id, pair_hash,"
    " priority, source, label_count, created_at)"
    " SELECT :project, t.p, t.a, t.b, t.h, 0, :source, t.n, :now"
    " FROM json_to_recordset(CAST(:rows AS JSON))"
    " AS t(p INTEGER, a INTEGER, b INTEGER, h TEXT, n INTEGER)"
    " ON CONFLICT DO NOTHING RETURNING pair_hash, id, response_a_id"
)
_PG_INSERT_LABELS = _sql(
    "INSERT INTO labels (comparison_id, annotator_id, source, choice, strength, feedback,"
    " flag_harmful, flag_untrue, flag_unhelpful, shown_swapped, time_spent_ms, idempotency_key,"
    " created_at)"
    " SELECT t.c, NULL, :source, t.x, t.s, '', false, false, false, false, NULL, t.k, :now"
    " FROM json_to_recordset(CAST(:rows AS JSON)) AS t(c INTEGER, x TEXT, s TEXT, k TEXT)"
    " ON CONFLICT DO NOTHING RETURNING comparison_id"
)
_PG_COUNT_LABELS = _sql(
    "UPDATE comparisons SET label_count = label_count + 1"
    " FROM json_array_elements_text(CAST(:ids AS JSON)) AS t(id)"
    " WHERE comparisons.id = CAST(t.id AS INTEGER)"
)


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


class PostgresStore:
    """The same operations with the rows as one JSON parameter (see the module docstring)."""

    def __init__(self, session: Session, project_id: int, source: str, now: datetime) -> None:
        self.session, self.project_id, self.source, self.now = session, project_id, source, now

    def _run(self, statement: TextClause, **params: Any) -> Any:
        return self.session.execute(statement, params)

    def find_prompts(self, hashes: Sequence[str]) -> dict[str, int]:
        rows = self._run(_PG_FIND_PROMPTS, project=self.project_id, hashes=_json(list(hashes)))
        return {digest: pid for digest, pid in rows}

    def insert_prompts(self, rows: Sequence[tuple[str, list[dict[str, str]]]]) -> dict[str, int]:
        result = self._run(
            _PG_INSERT_PROMPTS,
            project=self.project_id,
            source=self.source,
            now=self.now,
            rows=_json([{"m": messages, "h": digest} for digest, messages in rows]),
        )
        return {digest: pid for digest, pid in result}

    def find_responses(self, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]:
        rows = self._run(_PG_FIND_RESPONSES, rows=_json([{"p": p, "h": h} for p, h in keys]))
        return {(pid, digest): rid for pid, digest, rid in rows}

    def insert_responses(self, rows: Sequence[tuple[int, str, str]]) -> dict[tuple[int, str], int]:
        result = self._run(
            _PG_INSERT_RESPONSES,
            source=self.source,
            now=self.now,
            rows=_json([{"p": p, "h": h, "x": x} for p, h, x in rows]),
        )
        return {(pid, digest): rid for pid, digest, rid in result}

    def find_comparisons(self, hashes: Sequence[str]) -> dict[str, tuple[int, int]]:
        rows = self._run(_PG_FIND_COMPARISONS, project=self.project_id, hashes=_json(list(hashes)))
        return {digest: (cid, a_id) for digest, cid, a_id in rows}

    def insert_comparisons(self, rows: Sequence[NewComparison]) -> dict[str, tuple[int, int]]:
        result = self._run(
            _PG_INSERT_COMPARISONS,
            project=self.project_id,
            source=self.source,
            now=self.now,
            rows=_json([{"p": p, "a": a, "b": b, "h": h, "n": n} for p, a, b, h, n in rows]),
        )
        return {digest: (cid, a_id) for digest, cid, a_id in result}

    def insert_labels(self, rows: Sequence[NewLabel]) -> set[int]:
        result = self._run(
            _PG_INSERT_LABELS,
            source=self.source,
            now=self.now,
            rows=_json([{"c": c, "x": x, "s": s, "k": k} for c, x, s, k in rows]),
        )
        return {cid for (cid,) in result}

    def count_labels(self, comparison_ids: Sequence[int]) -> None:
        self._run(_PG_COUNT_LABELS, ids=_json(list(comparison_ids)))
