"""A small pool of autocommit psycopg connections for the annotator fast lane.

The fast lane runs its statements on the server's event loop: no worker-thread hop, no
SQLAlchemy session, one statement (hence one transaction) per request. The lane needs only
"at most N connections, reuse idle ones, drop broken ones". psycopg_pool's
AsyncConnectionPool was tried in its place and measured: with 64 annotators its waiting-client
machinery (a future and a timeout per waiting request) cost 0.12 ms more server CPU a label,
794-804 labels/s against 870-887 with this pool on the same quiet machine (bench/README.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from psycopg import AsyncConnection, OperationalError
from psycopg.pq import TransactionStatus
from sqlalchemy.engine import URL

# A database that does not answer a connection attempt in this long is treated as down (the
# request gets a 503 at once) instead of holding the request until the operating system
# gives up, minutes later.
CONNECT_TIMEOUT_S = 5
T = TypeVar("T")


def libpq_conninfo(url: URL) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://...``) as a libpq connection string."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncPgPool:
    """At most `size` connections of one event loop; a caller beyond that waits its turn."""

    def __init__(self, conninfo: str, size: int) -> None:
        self.conninfo = conninfo
        self.loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(size)
        self._idle: list[AsyncConnection[Any]] = []

    async def run(self, work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
        """`work` on a pooled connection. An idle connection that turns out dead (the
        database restarted since it was last used) costs no failure: every idle connection
        is then as dead, so they are dropped and `work` runs once more on a new one. Only a
        statement on a new connection that fails raises `OperationalError` (a 503)."""
        reused = False
        try:
            async with self.connection() as (conn, reused):
                return await work(conn)
        except OperationalError:
            if not reused:
                raise
        await self._drop_idle()
        async with self.connection() as (conn, _):
            return await work(conn)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[tuple[AsyncConnection[Any], bool]]:
        """A connection and whether it was reused from the idle list."""
        async with self._slots:
            conn = self._idle.pop() if self._idle else None
            reused = conn is not None and not conn.closed
            if conn is None or conn.closed:
                # prepare_threshold 0: the lane runs a handful of statements over and over,
                # so each is prepared on its first use instead of its sixth.
                conn = await AsyncConnection.connect(
                    self.conninfo,
                    autocommit=True,
                    prepare_threshold=0,
                    connect_timeout=CONNECT_TIMEOUT_S,
                )
            try:
                yield conn, reused
            finally:
                # Anything but an idle connection (a statement cut short by cancellation, a
                # dead socket) is closed rather than handed to the next request.
                if conn.info.transaction_status == TransactionStatus.IDLE:
                    self._idle.append(conn)
                else:
                    await conn.close()

    async def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

    async def close(self) -> None:
        await self._drop_idle()
