"""Engine and session factory; SQLite gets WAL, foreign keys and write-first transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings, get_settings


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy so BEGIN IMMEDIATE below is what runs.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # WAL with synchronous=NORMAL can lose the last commits on power loss, not on a
        # process crash; FULL keeps an acknowledged label through both.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes fails with SQLITE_BUSY instead of
        # waiting when another writer got in between; taking the write lock first avoids that.
        if conn.get_execution_options().get("sqlite_read_only"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(settings: Settings) -> Engine:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip on every request. A connection that died with the
    # database fails its request with a 503 and SQLAlchemy then recycles the whole pool.
    return create_engine(url, pool_size=10, max_overflow=20)


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings())


def make_sessionmaker(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    bind = engine.execution_options(sqlite_read_only=True) if read_only else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work outside a request (CLI, worker): commit on success, roll back on error."""
    factory = make_sessionmaker(engine or get_engine())
    with factory() as session, session.begin():
        yield session
