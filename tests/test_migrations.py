"""Migrations apply from empty, round-trip, and match the models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from app.migrate import downgrade, upgrade
from app.models import Base
from harness.databases import fresh_database, migrated_engine

TABLES = {
    "users",
    "api_tokens",
    "projects",
    "prompts",
    "responses",
    "comparisons",
    "assignments",
    "labels",
    "jobs",
    "job_metrics",
    "model_versions",
}


def test_migrations_apply_from_empty_and_round_trip(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        engine = migrated_engine(url, tmp_path)
        try:
            assert set(inspect(engine).get_table_names()) >= TABLES
            downgrade(engine, "base")
            assert not TABLES & set(inspect(engine).get_table_names())
            upgrade(engine)
            assert set(inspect(engine).get_table_names()) >= TABLES
        finally:
            engine.dispose()


def test_models_and_migrated_schema_do_not_drift(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_constraints_refuse_bad_rows(engine: Engine) -> None:
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            try:
                conn.execute(
                    text(
                        "INSERT INTO users (username, role, is_active, failed_logins, created_at) "
                        "VALUES ('x', 'superuser', true, 0, CURRENT_TIMESTAMP)"
                    )
                )
            except Exception as exc:  # the check constraint on role
                assert "role" in str(exc).lower() or "check" in str(exc).lower()
            else:
                raise AssertionError("an unknown role was accepted")
        finally:
            trans.rollback()


def test_rebuilding_the_jobs_table_on_sqlite_keeps_what_refers_to_it(tmp_path: Path) -> None:
    """0004 rebuilds `jobs` on SQLite; with foreign keys on, dropping the old table would
    have cascaded into job_metrics and nulled model_versions.job_id."""
    with fresh_database(tmp_path) as url:
        engine = migrated_engine(url, tmp_path)
        try:
            downgrade(engine, "0003")
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO projects (id, name, guidelines, labels_per_comparison,"
                        " generation_settings, training_settings, created_at)"
                        " VALUES (1, 'p', '', 1, '{}', '{}', CURRENT_TIMESTAMP)"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO jobs (id, project_id, kind, status, params, progress,"
                        " metrics, attempts, max_attempts, cancel_requested, created_at)"
                        " VALUES (7, 1, 'reward', 'succeeded', '{}', 1, '{}', 1, 3, false,"
                        " CURRENT_TIMESTAMP)"
                    )
                )
                conn.execute(
                    text(
                        'INSERT INTO job_metrics (job_id, step, "values", created_at)'
                        " VALUES (7, 1, '{}', CURRENT_TIMESTAMP)"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO model_versions (project_id, kind, name, base_model, path,"
                        " job_id, metrics, params, created_at)"
                        " VALUES (1, 'reward', 'reward-v1', 'b', 'p', 7, '{}', '{}',"
                        " CURRENT_TIMESTAMP)"
                    )
                )
            upgrade(engine)
            with engine.connect() as conn:
                assert conn.scalar(text("SELECT count(*) FROM job_metrics")) == 1
                assert conn.scalar(text("SELECT job_id FROM model_versions")) == 7
                conn.execute(
                    text(
                        "INSERT INTO jobs (project_id, kind, status, params, progress, metrics,"
                        " attempts, max_attempts, cancel_requested, created_at)"
                        " VALUES (1, 'dpo', 'queued', '{}', 0, '{}', 0, 3, false,"
                        " CURRENT_TIMESTAMP)"
                    )
                )
                conn.rollback()
        finally:
            engine.dispose()
