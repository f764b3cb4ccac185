"""Shared fixtures. RLHF_TEST_DB=sqlite|postgres picks the database for the whole run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.deps import get_db
from app.main import create_app
from harness.databases import backend, fresh_database, migrated_engine

# Fixtures shared across directories: one live server and browser, one pool of workers.
pytest_plugins = ["tests.live", "tests.worker.pool"]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rlhf-data")


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[str]:
    with fresh_database(data_dir) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str, data_dir: Path) -> Iterator[Engine]:
    engine = migrated_engine(database_url, data_dir)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
    )


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        if outer.is_active:
            outer.rollback()


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    """The test's session: commits inside it become savepoints of the rolled-back transaction."""
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()


@pytest.fixture
def app(settings: Settings, connection: Connection, engine: Engine) -> Iterator[FastAPI]:
    application = create_app(settings)
    application.state.engine.dispose()
    application.state.engine = engine

    def test_db() -> Iterator[Session]:
        # Each request gets its own session on the test's connection, like a real request.
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    application.dependency_overrides[get_db] = test_db
    yield application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `postgres_only` run in the PostgreSQL pass and are skipped in the other."""
    if backend() == "postgres":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: runs with RLHF_TEST_DB=postgres")
    for item in items:
        if item.get_closest_marker("postgres_only") is not None:
            item.add_marker(skip)


def pytest_report_header() -> str:
    return f"rlhf test database: {backend()}"
