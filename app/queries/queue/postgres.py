"""The pick on PostgreSQL: one call of `rlhf_take_next` (migration 0002) per request.

The function runs the held-lease check, the pick under ``FOR UPDATE SKIP LOCKED`` and the
lease, each statement with its own snapshot, in one round trip. Two callers share it: the
SQLAlchemy session path (the rating page, and the API when the fast lane does not apply)
and the annotator fast lane (`app/api/fast_lane.py`), which folds the Bearer token check into
the same statement and runs on a plain psycopg connection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from psycopg import AsyncConnection
from sqlalchemy.orm import Session

from app.queries.labels import touch_token_cte
from app.queries.queue.common import (
    MAX_PICK_ATTEMPTS,
    ComparisonContent,
    LeasedComparison,
    QueueBusy,
    Suspended,
)
from app.rating import RATER_ROLES_SQL

TOP = (2**31 - 1, 2**31 - 1)
# How long a process trusts its frontier. Rows before the frontier were full or leased when
# it was measured; one that opens again (a lease expires, a pair is skipped, a priority is
# raised, a pair is added above it) is offered at the latest this much later, and when the
# hint finds nothing the function looks once more from the top.
FRONTIER_TTL_S = 1.0
# Keyed by database too: a process may talk to several databases (the tests do).
_frontiers: dict[tuple[str, int], tuple[float, tuple[int, int] | None]] = {}

_FRONTIER_SQL = "SELECT * FROM rlhf_queue_frontier(%(project_id)s::integer, %(now)s)"

_CALL = (
    "rlhf_take_next(%(project_id)s::integer, {user}, %(now)s, %(expires_at)s,"
    " %(from_priority)s::integer, %(from_id)s::integer, %(attempts)s::integer,"
    " %(gold_key)s::text)"
)
_TAKE_NEXT_SQL = "SELECT * FROM " + _CALL.format(user="%(user_id)s::integer")

# The fast lane's statement: the token's owner, if active and allowed to rate, and the pick
# in one round trip; `last_used_at` is refreshed at most once a minute (a data-modifying CTE
# runs whether or not it is read). No row means the caller must take the full path, which
# tells a bad token (401) from a wrong role (403).
_TAKE_NEXT_FOR_TOKEN_SQL = f"""
WITH tok AS (
    SELECT t.id AS token_id, u.id AS user_id
    FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = %(token_hash)s AND t.revoked_at IS NULL AND u.is_active
      AND u.role IN {RATER_ROLES_SQL}
), {touch_token_cte("now")}
SELECT tok.user_id, n.* FROM tok, LATERAL {_CALL.format(user="tok.user_id")} n"""


@dataclass(frozen=True)
class Taken:
    """What `take_next_for_token` found: `outcome` is 'ok' or why the full path must answer."""

    outcome: str
    user_id: int = 0
    comparison_id: int = 0
    project_id: int = 0
    messages_json: str = ""
    text_a: str = ""
    text_b: str = ""


def _cached_frontier(key: tuple[str, int]) -> tuple[int, int] | bool | None:
    """The cached position, None for "no open row", False when it must be measured."""
    cached = _frontiers.get(key)
    if cached is None or time.monotonic() - cached[0] >= FRONTIER_TTL_S:
        return False
    return cached[1]


def _store_frontier(key: tuple[str, int], row: Any) -> tuple[int, int] | None:
    position = None if row is None else (int(row[0]), int(row[1]))
    _frontiers[key] = (time.monotonic(), position)
    return position


def _params(
    project_id: int,
    now: datetime,
    lease_for: timedelta,
    start: tuple[int, int] | None,
    gold_key: str,
) -> dict[str, Any]:
    # No open row at the last look: start from the top, which also finds new work.
    start = start or TOP
    return {
        "project_id": project_id,
        "now": now,
        "expires_at": now + lease_for,
        "from_priority": start[0],
        "from_id": start[1],
        "attempts": MAX_PICK_ATTEMPTS,
        "gold_key": gold_key,
    }


def take_next(
    session: Session,
    project_id: int,
    user_id: int,
    lease_for: timedelta,
    now: datetime,
    gold_key: str,
) -> LeasedComparison | None:
    conn = session.connection()
    key = (str(conn.engine.url), project_id)
    start = _cached_frontier(key)
    if start is False:
        frontier = {"project_id": project_id, "now": now}
        start = _store_frontier(key, conn.exec_driver_sql(_FRONTIER_SQL, frontier).first())
    assert start is not True
    params = {**_params(project_id, now, lease_for, start, gold_key), "user_id": user_id}
    row = conn.exec_driver_sql(_TAKE_NEXT_SQL, params).one()
    if row[0] == "busy":
        raise QueueBusy()
    if row[0] == "suspended":
        raise Suspended(project_id, user_id)
    if row[0] != "ok":
        return None
    content = ComparisonContent(
        comparison_id=row[1],
        project_id=row[2],
        messages=orjson.loads(row[3]),
        text_a=row[4],
        text_b=row[5],
    )
    return LeasedComparison(content=content, expires_at=params["expires_at"])


async def take_next_for_token(
    conn: AsyncConnection[Any],
    database: str,
    token_hash: str,
    project_id: int,
    lease_for: timedelta,
    now: datetime,
    stale_before: datetime,
    gold_key: str,
) -> Taken:
    """The fast lane's `next`, on an autocommit connection: one statement, one transaction."""
    key = (database, project_id)
    start = _cached_frontier(key)
    if start is False:
        cursor = await conn.execute(_FRONTIER_SQL, {"project_id": project_id, "now": now})
        start = _store_frontier(key, await cursor.fetchone())
    assert start is not True
    params = {
        **_params(project_id, now, lease_for, start, gold_key),
        "token_hash": token_hash,
        "stale_before": stale_before,
    }
    cursor = await conn.execute(_TAKE_NEXT_FOR_TOKEN_SQL, params)
    row = await cursor.fetchone()
    if row is None:
        return Taken("auth")
    if row[1] != "ok":
        return Taken(str(row[1]), user_id=row[0])
    return Taken("ok", row[0], row[2], row[3], row[4], row[5], row[6])
