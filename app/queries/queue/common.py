"""Which comparison an annotator rates next, and the lease that reserves it.

A comparison is open to an annotator while it is short of its project's labels per
comparison, the annotator has neither labelled nor skipped it, and the labels it has plus
the live leases of other annotators leave a slot. Taking it writes a lease (an assignment
in status ``leased`` with an expiry); an expired lease simply stops counting.

Order: highest priority first, and within one priority the newest first. Newest first lets
one backward walk of the ``(project_id, priority, id)`` index serve the order, and the
newest pairs are the ones from the latest policy, the most useful to label next.

Concurrency: on PostgreSQL the candidate row is locked with ``FOR UPDATE SKIP LOCKED`` (two
annotators never wait on each other; the second takes the next row), and the slot is then
re-checked in a second statement whose fresh snapshot sees every lease committed before
the lock was granted. On SQLite every write transaction is ``BEGIN IMMEDIATE``, so the
whole pick is serialised.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from app.models import (
    Assignment,
    AssignmentStatus,
    Comparison,
    Label,
    Project,
    Prompt,
    Response,
    utcnow,
)

LEASED = AssignmentStatus.leased.value
CLOSED = (AssignmentStatus.skipped.value, AssignmentStatus.done.value)
# A pick loses its race when another annotator's lease committed between the pick's snapshot
# and its row lock; under heavy load at the head of the queue that is common, so a pick
# tries again (each try with a fresh snapshot) before it gives up with QueueBusy.
MAX_PICK_ATTEMPTS = 25


class QueueBusy(Exception):
    """Every try lost its race to other annotators; the caller should retry shortly."""


@dataclass(frozen=True)
class Lease:
    comparison_id: int
    expires_at: datetime


@dataclass(frozen=True)
class ComparisonContent:
    comparison_id: int
    project_id: int
    messages: list[dict[str, str]]
    text_a: str
    text_b: str


@dataclass(frozen=True)
class LeasedComparison:
    content: ComparisonContent
    expires_at: datetime


@dataclass(frozen=True)
class ProjectWork:
    project_id: int
    name: str


def shown_swapped(secret: str, user_id: int, comparison_id: int) -> bool:
    """Whether this annotator sees B on the left: random across pairs, fixed for one pair.

    A keyed hash, so nobody can predict or steer the order, and a reload shows it unchanged.
    """
    digest = hmac.new(
        secret.encode(), f"swap:{user_id}:{comparison_id}".encode(), hashlib.sha256
    ).digest()
    return bool(digest[0] & 1)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _live_leases_of_others(user_id: int, now: datetime) -> Any:
    return (
        select(func.count())
        .select_from(Assignment)
        .where(
            Assignment.comparison_id == Comparison.id,
            Assignment.status == LEASED,
            Assignment.expires_at > now,
            Assignment.user_id != user_id,
        )
        .scalar_subquery()
    )


def _closed_by(user_id: int) -> Any:
    return exists().where(
        Assignment.comparison_id == Comparison.id,
        Assignment.user_id == user_id,
        Assignment.status.in_(CLOSED),
    )


def open_comparisons(
    project_id: int, labels_wanted: int, user_id: int, now: datetime
) -> Select[Any]:
    """Comparisons of a project still open to this annotator, in queue order."""
    return (
        select(Comparison.id)
        .where(
            Comparison.project_id == project_id,
            Comparison.label_count < labels_wanted,
            ~_closed_by(user_id),
            Comparison.label_count + _live_leases_of_others(user_id, now) < labels_wanted,
        )
        .order_by(Comparison.priority.desc(), Comparison.id.desc())
    )


def held_lease(session: Session, project_id: int, user_id: int, now: datetime) -> int | None:
    """The comparison this annotator already holds a live lease on, if any."""
    return session.scalar(
        select(Assignment.comparison_id)
        .join(Comparison, Comparison.id == Assignment.comparison_id)
        .where(
            Assignment.user_id == user_id,
            Assignment.status == LEASED,
            Assignment.expires_at > now,
            Comparison.project_id == project_id,
        )
        .order_by(Assignment.expires_at.desc())
        .limit(1)
    )


def _upsert_assignment(session: Session, values: dict[str, Any], *, only_if_leased: bool) -> Any:
    insert = postgresql.insert if _is_postgres(session) else sqlite.insert
    stmt = insert(Assignment).values(**values)
    return stmt.on_conflict_do_update(
        index_elements=[Assignment.comparison_id, Assignment.user_id],
        set_={"status": stmt.excluded.status, "expires_at": stmt.excluded.expires_at},
        # A closed assignment (labelled or skipped) is never reopened by a lease.
        where=(Assignment.status == LEASED) if only_if_leased else None,
    )


def _lease_next_serialised(
    session: Session,
    *,
    project_id: int,
    labels_wanted: int,
    user_id: int,
    lease_for: timedelta,
    now: datetime,
) -> Lease | None:
    """The pick for SQLite, whose BEGIN IMMEDIATE transactions never run side by side, so a
    plain read-then-write cannot race. PostgreSQL takes `_take_next_postgres`."""
    expires_at = now + lease_for
    comparison_id = held_lease(session, project_id, user_id, now)
    if comparison_id is None:
        stmt = open_comparisons(project_id, labels_wanted, user_id, now).limit(1)
        comparison_id = session.scalar(stmt)
    if comparison_id is None:
        return None
    session.execute(
        _upsert_assignment(
            session,
            {
                "comparison_id": comparison_id,
                "user_id": user_id,
                "status": LEASED,
                "expires_at": expires_at,
                "created_at": now,
            },
            only_if_leased=True,
        )
    )
    return Lease(comparison_id=comparison_id, expires_at=expires_at)


def skip_comparison(session: Session, comparison_id: int, user_id: int) -> bool:
    """Marks the comparison skipped for this annotator (their lease ends); False if unknown."""
    if session.scalar(select(Comparison.id).where(Comparison.id == comparison_id)) is None:
        return False
    already_labelled = session.scalar(
        select(Assignment.status).where(
            Assignment.comparison_id == comparison_id,
            Assignment.user_id == user_id,
            Assignment.status == AssignmentStatus.done.value,
        )
    )
    if already_labelled is None:
        session.execute(
            _upsert_assignment(
                session,
                {
                    "comparison_id": comparison_id,
                    "user_id": user_id,
                    "status": AssignmentStatus.skipped.value,
                    "expires_at": None,
                    "created_at": utcnow(),
                },
                only_if_leased=False,
            )
        )
    return True


def comparison_content(session: Session, comparison_id: int) -> ComparisonContent | None:
    """The prompt and both responses of a comparison, in the comparison's own order."""
    response_a = aliased(Response)
    response_b = aliased(Response)
    row = session.execute(
        select(
            Comparison.id,
            Comparison.project_id,
            Prompt.messages,
            response_a.text,
            response_b.text,
        )
        .join(Prompt, Prompt.id == Comparison.prompt_id)
        .join(response_a, response_a.id == Comparison.response_a_id)
        .join(response_b, response_b.id == Comparison.response_b_id)
        .where(Comparison.id == comparison_id)
    ).first()
    if row is None:
        return None
    return ComparisonContent(
        comparison_id=row[0], project_id=row[1], messages=row[2], text_a=row[3], text_b=row[4]
    )


def project_settings(session: Session, project_id: int) -> tuple[str, str, int] | None:
    """Name, guidelines and labels per comparison of a project."""
    row = session.execute(
        select(Project.name, Project.guidelines, Project.labels_per_comparison).where(
            Project.id == project_id
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def comparisons_left(
    session: Session, project_id: int, labels_wanted: int, user_id: int, now: datetime
) -> int:
    """How many comparisons this annotator could still be given in the project."""
    inner = open_comparisons(project_id, labels_wanted, user_id, now).order_by(None).subquery()
    return session.scalar(select(func.count()).select_from(inner)) or 0


def projects_with_work(session: Session, user_id: int) -> list[ProjectWork]:
    """Every project with a comparison open to this annotator, oldest project first.

    An existence test per project, not a count: a page view must not count a large queue
    for every project.
    """
    now = utcnow()
    work = []
    for project_id, name, wanted in session.execute(
        select(Project.id, Project.name, Project.labels_per_comparison).order_by(Project.id)
    ):
        open_one = open_comparisons(project_id, wanted, user_id, now).limit(1)
        if session.scalar(open_one) is not None:
            work.append(ProjectWork(project_id=project_id, name=name))
    return work


def labels_since(session: Session, user_id: int, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Label)
            .where(and_(Label.annotator_id == user_id, Label.created_at >= since))
        )
        or 0
    )


def take_next(
    session: Session,
    *,
    project_id: int,
    user_id: int,
    lease_for: timedelta,
    now: datetime | None = None,
) -> LeasedComparison | None:
    """Leases the comparison this annotator should rate now and returns it with its content.

    A live lease of theirs in the project is returned again (and renewed), so a reload or a
    second tab shows the same pair instead of taking another slot. None when nothing is open
    to this annotator, or when the project does not exist; QueueBusy when the pick kept
    losing races to other annotators (PostgreSQL under heavy load).
    """
    now = now or utcnow()
    if _is_postgres(session):
        return _take_next_postgres(session, project_id, user_id, lease_for, now)
    wanted = session.scalar(select(Project.labels_per_comparison).where(Project.id == project_id))
    if wanted is None:
        return None
    lease = _lease_next_serialised(
        session,
        project_id=project_id,
        labels_wanted=wanted,
        user_id=user_id,
        lease_for=lease_for,
        now=now,
    )
    if lease is None:
        return None
    content = comparison_content(session, lease.comparison_id)
    assert content is not None  # leased in this transaction
    return LeasedComparison(content=content, expires_at=lease.expires_at)


# PostgreSQL hot path: two statements (pick under a row lock, then lease and read) instead of
# five, because at hundreds of labels a second each round trip costs real CPU.

_PICK_SQL = text("""
WITH wanted AS (
    SELECT labels_per_comparison AS n FROM projects WHERE id = :project_id
), held AS (
    SELECT a.comparison_id AS id
    FROM assignments a JOIN comparisons c ON c.id = a.comparison_id
    WHERE a.user_id = :user_id AND a.status = 'leased' AND a.expires_at > :now
      AND c.project_id = :project_id
    ORDER BY a.expires_at DESC
    LIMIT 1
), pick AS (
    SELECT c.id
    FROM comparisons c, wanted w
    WHERE c.project_id = :project_id
      AND (c.priority, c.id) <= (:from_priority, :from_id)
      AND c.label_count < w.n
      AND NOT EXISTS (
          SELECT 1 FROM assignments a
          WHERE a.comparison_id = c.id AND a.user_id = :user_id
            AND a.status IN ('skipped', 'done'))
      AND c.label_count + (
          SELECT count(*) FROM assignments a
          WHERE a.comparison_id = c.id AND a.status = 'leased' AND a.expires_at > :now
            AND a.user_id <> :user_id) < w.n
    ORDER BY c.priority DESC, c.id DESC
    LIMIT 1
    FOR UPDATE OF c SKIP LOCKED
)
-- A CTE runs only as far as it is read: with a held lease the pick never scans or locks.
SELECT id, true AS held FROM held
UNION ALL
SELECT id, false FROM pick
LIMIT 1
""")

# Runs after the pick's row lock is granted, as a new statement: READ COMMITTED gives it a
# fresh snapshot, so it sees every lease committed before the lock and cannot over-lease.
# Losing a lease in a crash only means the pair is offered again, so this transaction skips
# the WAL flush wait (synchronous_commit off); labels keep the full durable commit.
_LEASE_SQL = text("""
WITH lease AS (
    INSERT INTO assignments (comparison_id, user_id, status, expires_at, created_at)
    SELECT c.id, :user_id, 'leased', :expires_at, :now
    FROM comparisons c JOIN projects p ON p.id = c.project_id
    WHERE c.id = :comparison_id
      AND (:held OR c.label_count + (
          SELECT count(*) FROM assignments a
          WHERE a.comparison_id = c.id AND a.status = 'leased' AND a.expires_at > :now
            AND a.user_id <> :user_id) < p.labels_per_comparison)
    ON CONFLICT (comparison_id, user_id) DO UPDATE
        SET status = 'leased', expires_at = EXCLUDED.expires_at
        WHERE assignments.status = 'leased'
    RETURNING comparison_id
)
SELECT c.id, c.project_id, pr.messages, ra.text, rb.text,
       set_config('synchronous_commit', 'off', true)
FROM lease
JOIN comparisons c ON c.id = lease.comparison_id
JOIN prompts pr ON pr.id = c.prompt_id
JOIN responses ra ON ra.id = c.response_a_id
JOIN responses rb ON rb.id = c.response_b_id
""")

_FRONTIER_SQL = text("""
WITH wanted AS (
    SELECT labels_per_comparison AS n FROM projects WHERE id = :project_id
)
SELECT c.priority, c.id
FROM comparisons c, wanted w
WHERE c.project_id = :project_id
  AND c.label_count < w.n
  AND c.label_count + (
      SELECT count(*) FROM assignments a
      WHERE a.comparison_id = c.id AND a.status = 'leased' AND a.expires_at > :now) < w.n
ORDER BY c.priority DESC, c.id DESC
LIMIT 1
""")

TOP = (2**31 - 1, 2**63 - 1)
# How long a worker trusts its frontier. Rows before the frontier were full or leased when
# it was measured; one that opens again (a lease expires, a pair is skipped, a priority is
# raised, a pair is added above it) is offered at the latest this much later.
FRONTIER_TTL_S = 1.0
# Keyed by database too: a process may talk to several databases (the tests do).
_frontiers: dict[tuple[object, int], tuple[float, tuple[int, int]]] = {}


def _frontier(session: Session, project_id: int, now: datetime) -> tuple[int, int] | None:
    """Where the queue's open part starts: a scan from here skips the labelled head.

    Without it every pick walks past every labelled comparison (tens of thousands after a
    day's work); with it a pick walks past at most a second's worth of new labels.
    """
    key = (session.get_bind().engine.url, project_id)
    cached = _frontiers.get(key)
    clock = time.monotonic()
    if cached is not None and clock - cached[0] < FRONTIER_TTL_S:
        return cached[1]
    params = {"project_id": project_id, "now": now}
    row = session.connection().execute(_FRONTIER_SQL, params).first()
    if row is None:
        _frontiers.pop(key, None)
        return None
    position = (int(row[0]), int(row[1]))
    _frontiers[key] = (clock, position)
    return position


def _take_next_postgres(
    session: Session, project_id: int, user_id: int, lease_for: timedelta, now: datetime
) -> LeasedComparison | None:
    expires_at = now + lease_for
    conn = session.connection()
    start = _frontier(session, project_id, now) or TOP
    for _ in range(MAX_PICK_ATTEMPTS):
        params = {
            "project_id": project_id,
            "user_id": user_id,
            "now": now,
            "from_priority": start[0],
            "from_id": start[1],
        }
        picked = conn.execute(_PICK_SQL, params).first()
        if picked is None and start != TOP:
            # The hint may be stale (work opened above it): look once from the top.
            start = TOP
            continue
        if picked is None:
            return None
        row = conn.execute(
            _LEASE_SQL,
            {
                "comparison_id": picked[0],
                "user_id": user_id,
                "now": now,
                "expires_at": expires_at,
                "held": bool(picked[1]),
            },
        ).first()
        if row is not None:
            content = ComparisonContent(
                comparison_id=row[0],
                project_id=row[1],
                messages=row[2],
                text_a=row[3],
                text_b=row[4],
            )
            return LeasedComparison(content=content, expires_at=expires_at)
    raise QueueBusy()
