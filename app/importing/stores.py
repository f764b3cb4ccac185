"""Set-at-a-time lookups and inserts of prompts, responses, comparisons and labels (SQLite).

Multi-row INSERT ... VALUES through SQLAlchemy Core. Inserts are ON CONFLICT DO NOTHING
and return what they inserted; the writer looks up the rest. PostgreSQL imports take the
staged path instead (app/importing/staged.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, tuple_, update
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


class CoreStore:
    """Portable SQLAlchemy Core statements."""

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

    def insert_responses(
        self, rows: Sequence[tuple[int, str, str, str | None]]
    ) -> dict[tuple[int, str], int]:
        """Rows of (prompt id, content hash, text, source name or None)."""
        values = [
            {
                "prompt_id": prompt_id,
                "text": body,
                "content_hash": digest,
                "source": self.source,
                "model_name": model_name,
                "created_at": self.now,
            }
            for prompt_id, digest, body, model_name in rows
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

    def set_gold(self, golds: Sequence[tuple[int, str]]) -> None:
        """Gold answers (comparison id, choice in the stored order), the file's over any before."""
        for comparison_id, gold in golds:
            self.session.execute(
                update(COMPARISONS)
                .where(COMPARISONS.c.id == comparison_id)
                .values(gold_choice=gold)
            )

    def count_labels(self, comparison_ids: Sequence[int]) -> None:
        self.session.execute(
            update(COMPARISONS)
            .where(COMPARISONS.c.id.in_(comparison_ids))
            .values(label_count=COMPARISONS.c.label_count + 1)
        )
