"""Fresh test databases: a SQLite file or a new PostgreSQL database, migrated with Alembic."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from app.config import Settings
from app.db import make_engine
from app.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "RLHF_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def backend() -> str:
    """Which database this test run uses: RLHF_TEST_DB=sqlite (default) or postgres."""
    return os.environ.get("RLHF_TEST_DB", "sqlite")


@contextmanager
def fresh_database(tmp_dir: Path, kind: str | None = None) -> Iterator[str]:
    """Yields the URL of a new, empty database and drops it afterwards."""
    kind = kind or backend()
    if kind == "sqlite":
        yield f"sqlite:///{tmp_dir / f'rlhf-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"rlhf_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrated_engine(url: str, data_dir: Path) -> Engine:
    engine = make_engine(Settings(database_url=url, data_dir=data_dir))
    upgrade(engine)
    return engine
