"""The annotator fast lane's connections: a psycopg_pool pool of autocommit connections.

The fast lane runs its statements on the server's event loop: no worker-thread hop, no
SQLAlchemy session, one statement (hence one transaction) per request.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import URL

LanePool = AsyncConnectionPool[AsyncConnection[Any]]


def libpq_conninfo(url: URL) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://...``) as a libpq connection string."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def lane_pool(conninfo: str, size: int) -> LanePool:
    """A pool of at most `size` connections, not yet open (``await pool.open()``).

    It starts with one connection and grows as requests wait. A connection that comes back
    in any state but idle (a statement cut short by cancellation, a dead socket) is closed
    rather than handed to the next request; a caller that waits longer than the timeout
    gets ``PoolTimeout``, an ``OperationalError`` (the lane's 503).
    """
    return AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=size,
        # prepare_threshold 0: the lane runs a handful of statements over and over, so each
        # is prepared on its first use instead of its sixth.
        kwargs={"autocommit": True, "prepare_threshold": 0},
        timeout=10.0,
        open=False,
        name="fast-lane",
    )
