"""Recording a human label: exactly once per idempotency key, at most once per annotator and pair.

One transaction inserts the label, bumps the comparison's ``label_count`` (the queue reads
it instead of counting labels) and closes the annotator's assignment. The insert is
``ON CONFLICT DO NOTHING``: a retry that races the first attempt finds the row the first
one wrote and is answered with it, and neither can make a second label.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy import bindparam, literal, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from app.models import Assignment, AssignmentStatus, Comparison, Label, UTCDateTime, utcnow
from app.queries.users import TOKEN_TOUCH_INTERVAL
from app.rating import RATER_ROLES_SQL
from app.security import hash_api_token


def touch_token_cte(now_param: str) -> str:
    """The fast lane's refresh of `last_used_at` (PostgreSQL), a CTE over the `tok` CTE.

    SKIP LOCKED: when another request of the same token holds its row, this one leaves the
    refresh to it rather than wait. The lane's statements lock pairs and assignments first
    and reach the token last (an unreferenced CTE runs after the main query), while a
    full-path request locks the token first: two requests of one client, sent in parallel
    in the minute the token was due, could deadlock, and one of them failed with a 503.
    """
    return (
        "touch AS (\n"
        f"    UPDATE api_tokens SET last_used_at = %({now_param})s\n"
        "    WHERE id IN (SELECT t.id FROM api_tokens t\n"
        "                 WHERE t.id IN (SELECT token_id FROM tok)\n"
        "                   AND (t.last_used_at IS NULL OR t.last_used_at < %(stale_before)s)\n"
        "                 FOR UPDATE SKIP LOCKED)\n"
        ")"
    )


class ComparisonNotFound(Exception):
    pass


class AlreadyLabelled(Exception):
    """This annotator labelled this comparison before, under another idempotency key."""


class KeyReused(Exception):
    """The idempotency key belongs to a label of another annotator or comparison."""


@dataclass(frozen=True)
class LabelInput:
    comparison_id: int
    annotator_id: int
    idempotency_key: str
    # Response B compared with response A, in the comparison's own order.
    choice: str
    strength: str | None
    feedback: str
    flag_harmful: bool
    flag_untrue: bool
    flag_unhelpful: bool
    shown_swapped: bool
    time_spent_ms: int | None


@dataclass(frozen=True)
class StoredLabel:
    id: int
    comparison_id: int
    annotator_id: int | None
    choice: str
    strength: str | None
    feedback: str
    flag_harmful: bool
    flag_untrue: bool
    flag_unhelpful: bool
    shown_swapped: bool
    time_spent_ms: int | None
    idempotency_key: str
    created_at: datetime


LABEL_COLUMNS = (
    Label.id,
    Label.comparison_id,
    Label.annotator_id,
    Label.choice,
    Label.strength,
    Label.feedback,
    Label.flag_harmful,
    Label.flag_untrue,
    Label.flag_unhelpful,
    Label.shown_swapped,
    Label.time_spent_ms,
    Label.idempotency_key,
    Label.created_at,
)


def label_by_key(session: Session, key: str) -> StoredLabel | None:
    row = session.execute(select(*LABEL_COLUMNS).where(Label.idempotency_key == key)).first()
    return None if row is None else StoredLabel(**row._asdict())


def record_label(session: Session, data: LabelInput) -> tuple[StoredLabel, bool]:
    """The label for this key and whether it was created now (False: an earlier attempt's).

    Raises ComparisonNotFound, AlreadyLabelled or KeyReused.
    """
    now = utcnow()
    values = _values(data, now)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        label_id = session.connection().exec_driver_sql(_RECORD_SQL, values).scalar()
        if label_id is None:
            return _resolve_conflict(session, data), False
        return _stored(label_id, data, now), True
    insert = sqlite.insert
    # INSERT ... SELECT from the comparison: an unknown comparison inserts nothing instead
    # of failing on the foreign key (which would abort the whole transaction on PostgreSQL).
    source = select(*(literal(v, type_=Label.__table__.c[k].type) for k, v in values.items()))
    source = source.where(select(Comparison.id).where(Comparison.id == data.comparison_id).exists())
    stmt = (
        insert(Label).from_select(list(values), source).on_conflict_do_nothing().returning(Label.id)
    )
    label_id = session.scalar(stmt)
    if label_id is None:
        return _resolve_conflict(session, data), False
    session.execute(
        update(Comparison)
        .where(Comparison.id == data.comparison_id)
        .values(label_count=Comparison.label_count + 1)
    )
    done = insert(Assignment).values(
        comparison_id=data.comparison_id,
        user_id=data.annotator_id,
        status=AssignmentStatus.done.value,
        expires_at=None,
        created_at=now,
    )
    session.execute(
        done.on_conflict_do_update(
            index_elements=[Assignment.comparison_id, Assignment.user_id],
            set_={"status": AssignmentStatus.done.value, "expires_at": None},
        )
    )
    return _stored(label_id, data, now), True


async def record_label_for_token(
    conn: AsyncConnection[Any], data: LabelInput, token_hash: str, next_project_id: int | None
) -> StoredLabel | None:
    """The fast lane's insert on an autocommit connection: committed when this returns.

    None when nothing was written (the token is no longer good, the key or the pair was
    used already, the comparison is unknown): the full path then gives the exact answer.
    """
    now = utcnow()
    params = {
        **_values(data, now),
        "token_hash": token_hash,
        "stale_before": now - TOKEN_TOUCH_INTERVAL,
    }
    sql = _RECORD_FOR_TOKEN_SQL
    if next_project_id is not None:
        sql = _RECORD_IN_PROJECT_FOR_TOKEN_SQL
        params["next_project_id"] = next_project_id
    cursor = await conn.execute(sql, params)
    row = await cursor.fetchone()
    return None if row is None else _stored(row[0], data, now)


def _values(data: LabelInput, now: datetime) -> dict[str, Any]:
    return {
        "comparison_id": data.comparison_id,
        "annotator_id": data.annotator_id,
        "source": "human",
        "choice": data.choice,
        "strength": data.strength,
        "feedback": data.feedback,
        "flag_harmful": data.flag_harmful,
        "flag_untrue": data.flag_untrue,
        "flag_unhelpful": data.flag_unhelpful,
        "shown_swapped": data.shown_swapped,
        "time_spent_ms": data.time_spent_ms,
        "idempotency_key": data.idempotency_key,
        "created_at": now,
    }


def _stored(label_id: int, data: LabelInput, now: datetime) -> StoredLabel:
    return StoredLabel(
        id=label_id,
        comparison_id=data.comparison_id,
        annotator_id=data.annotator_id,
        choice=data.choice,
        strength=data.strength,
        feedback=data.feedback,
        flag_harmful=data.flag_harmful,
        flag_untrue=data.flag_untrue,
        flag_unhelpful=data.flag_unhelpful,
        shown_swapped=data.shown_swapped,
        time_spent_ms=data.time_spent_ms,
        idempotency_key=data.idempotency_key,
        created_at=now,
    )


# PostgreSQL: the three writes in one statement (data-modifying CTEs run exactly once), so a
# label costs one round trip and one durable commit. `{auth}` and `{guard}` are where the fast
# lane adds its token check; the session path has resolved the caller already.
_RECORD_TEMPLATE = """
WITH {auth}ins AS (
    INSERT INTO labels (comparison_id, annotator_id, source, choice, strength, feedback,
                        flag_harmful, flag_untrue, flag_unhelpful, shown_swapped,
                        time_spent_ms, idempotency_key, created_at)
    SELECT c.id, %(annotator_id)s, %(source)s, %(choice)s, %(strength)s, %(feedback)s,
           %(flag_harmful)s, %(flag_untrue)s, %(flag_unhelpful)s, %(shown_swapped)s,
           %(time_spent_ms)s, %(idempotency_key)s, %(created_at)s
    FROM comparisons c WHERE c.id = %(comparison_id)s{guard}
    ON CONFLICT DO NOTHING
    RETURNING id, comparison_id
), bump AS (
    UPDATE comparisons SET label_count = label_count + 1
    WHERE id IN (SELECT comparison_id FROM ins)
), done AS (
    INSERT INTO assignments (comparison_id, user_id, status, expires_at, created_at)
    SELECT comparison_id, %(annotator_id)s, 'done', NULL, %(created_at)s FROM ins
    ON CONFLICT (comparison_id, user_id) DO UPDATE SET status = 'done', expires_at = NULL
)
SELECT id FROM ins
"""
_RECORD_SQL = _RECORD_TEMPLATE.format(auth="", guard="")
# The fast lane knows the token's owner from its `next` (a token never changes hands), but
# whether the token is live and its owner active and allowed to rate is checked here, in the
# same statement. No row: a bad token, a conflict or an unknown comparison, which the full
# path then sorts out.
_TOKEN_AUTH = f"""tok AS (
    SELECT t.id AS token_id
    FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = %(token_hash)s AND u.id = %(annotator_id)s AND t.revoked_at IS NULL
      AND u.is_active AND u.role IN {RATER_ROLES_SQL}
), {touch_token_cte("created_at")}, """
# A suspended annotator's label goes to the full path, which acknowledges a retry and
# refuses anything new.
_TOKEN_GUARD = (
    " AND EXISTS (SELECT 1 FROM tok)"
    " AND NOT EXISTS (SELECT 1 FROM annotator_quality q WHERE q.project_id = c.project_id"
    " AND q.user_id = %(annotator_id)s AND q.status = 'suspended')"
)
_RECORD_FOR_TOKEN_SQL = _RECORD_TEMPLATE.format(auth=_TOKEN_AUTH, guard=_TOKEN_GUARD)
# The same for a label that also asks for the next pair of a project: a project that does
# not exist writes nothing, so the full path's 404 leaves nothing behind either.
_RECORD_IN_PROJECT_FOR_TOKEN_SQL = _RECORD_TEMPLATE.format(
    auth=_TOKEN_AUTH,
    guard=_TOKEN_GUARD + " AND EXISTS (SELECT 1 FROM projects p WHERE p.id = %(next_project_id)s)",
)


_TOKEN_SQL = text("""
SELECT u.id, u.role, t.id AS token_id, t.last_used_at
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = :token_hash AND t.revoked_at IS NULL AND u.is_active
""").columns(last_used_at=UTCDateTime())
_TOUCH_SQL = text("UPDATE api_tokens SET last_used_at = :now WHERE id = :token_id").bindparams(
    bindparam("now", type_=UTCDateTime())
)


def rater_for_token(session: Session, plain: str) -> tuple[int, str] | None:
    """(id, role) of the active owner of a live API token.

    The annotator API's lean twin of `users.user_for_token`: one textual statement on the
    session's connection, no ORM objects, because it runs on every label.
    """
    conn = session.connection()
    row = conn.execute(_TOKEN_SQL, {"token_hash": hash_api_token(plain)}).first()
    if row is None:
        return None
    user_id, role, token_id, last_used_at = row.tuple()
    now = utcnow()
    if last_used_at is None or now - last_used_at > TOKEN_TOUCH_INTERVAL:
        conn.execute(_TOUCH_SQL, {"now": now, "token_id": token_id})
    return int(user_id), str(role)


def _resolve_conflict(session: Session, data: LabelInput) -> StoredLabel:
    existing = label_by_key(session, data.idempotency_key)
    if existing is not None:
        if (existing.annotator_id, existing.comparison_id) == (
            data.annotator_id,
            data.comparison_id,
        ):
            return existing
        raise KeyReused(data.idempotency_key)
    if session.scalar(select(Comparison.id).where(Comparison.id == data.comparison_id)) is None:
        raise ComparisonNotFound(data.comparison_id)
    raise AlreadyLabelled(data.comparison_id)
