"""A throwaway PostgreSQL database for one benchmark run, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

# A Unix socket instead of loopback TCP: postgresql://postgres@/postgres?host=/var/run/postgresql
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database on PG_ADMIN's server."""
    name = f"rlhf_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        server, _, query = PG_ADMIN.partition("?")
        yield server.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_name(url: str) -> str:
    return url.partition("?")[0].rsplit("/", 1)[1]
