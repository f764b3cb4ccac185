"""The quality dashboard's per-annotator table: the rows of ``GET /api/v1/projects/{id}/
annotators`` (the last reliability computation, with current statuses) as a person reads
them, each with its status history.

The figures come from ``recompute.refresh`` and ``recompute.annotator_table``, the two calls
the REST endpoint makes, so the page and the API never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from app.deps import writable
from app.models import AnnotatorStatus
from app.quality import recompute as reliability
from app.quality.intervals import interval, percent
from app.queries import quality as quality_queries

DASH = "\u2013"
# Statuses an admin may suspend from, and those they may reinstate from (a flag is lifted
# by reinstating too, as the REST endpoint allows).
SUSPENDABLE = frozenset({"ok", "watch", "flagged"})
REINSTATABLE = frozenset({"flagged", "suspended"})


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    old: str | None
    new: str
    actor: str
    reason: str


@dataclass(frozen=True)
class AnnotatorRow:
    user_id: int
    username: str
    labels: int
    gold: str
    agreement: str
    competence: str
    left_share: str
    median_time: str
    status: str
    reasons: list[str]
    history: list[HistoryEntry]

    @property
    def may_suspend(self) -> bool:
        return self.status in SUSPENDABLE

    @property
    def may_reinstate(self) -> bool:
        return self.status in REINSTATABLE


@dataclass(frozen=True)
class AnnotatorTable:
    computed_at: datetime | None
    # A recomputation started in the background for this request: the page says so.
    recomputing: bool
    rows: list[AnnotatorRow]


def _share(value: float | None, bounds: list[float] | None, count: str = "") -> str:
    if value is None:
        return DASH
    shown = percent(value)
    if bounds is not None:
        shown += f" {interval(bounds[0], bounds[1])}"
    return shown + count


def _row(row: dict[str, Any], history: list[HistoryEntry]) -> AnnotatorRow:
    gold_pairs = row["gold_labels"]
    median = row.get("median_time_ms")
    return AnnotatorRow(
        user_id=row["user_id"],
        username=row["username"],
        labels=row["labels"],
        gold=_share(
            row["gold_accuracy"],
            row.get("gold_interval"),
            f" over {gold_pairs} gold pair{'' if gold_pairs == 1 else 's'}",
        ),
        agreement=_share(row["agreement"], row.get("agreement_interval")),
        competence=_share(row["competence"], row.get("competence_interval")),
        left_share=_share(row.get("left_share"), None),
        median_time=DASH if median is None else f"{median / 1000:.1f} s",
        status=row["status"],
        reasons=list(row["reasons"]),
        history=history,
    )


def annotator_table(request: Request, session: Session, project_id: int) -> AnnotatorTable:
    """The table as the REST endpoint gives it (refreshed when stale), with histories."""
    # Read through the writing session: on SQLite the request's own read transaction began
    # before a first computation made here, and would not see it.
    with writable(request, session) as writer:
        started = reliability.refresh(writer, request.app.state.sessionmaker, project_id)
        computed_at, rows = reliability.annotator_table(writer, project_id)
        events = quality_queries.status_histories(writer, project_id)
    histories = {
        user_id: [
            HistoryEntry(e.created_at, e.old_status, e.new_status, e.actor, e.reason) for e in found
        ]
        for user_id, found in events.items()
    }
    shown = [_row(row, histories.get(row["user_id"], [])) for row in rows]
    return AnnotatorTable(computed_at, started, sorted(shown, key=_order))


def _order(row: AnnotatorRow) -> tuple[int, str]:
    """The ones that need a look first: suspended, flagged, watch, then ok, by name."""
    rank = {s.value: n for n, s in enumerate(reversed(list(AnnotatorStatus)))}
    return (rank.get(row.status, 0), row.username)
