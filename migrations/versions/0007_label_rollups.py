"""label rollups: pre-aggregated statistics kept by triggers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 16:00:00

A project's statistics and quality dashboard read these instead of the labels, so they
answer in milliseconds at a million labels (bench/stats.py). Triggers on `labels` keep them,
whichever code path writes a label (the web form, the API, the fast lane's SQL, imports by
COPY): statement-level with transition tables on PostgreSQL (one set-based write per
statement, so a bulk import pays per statement, not per row), row-level on SQLite.

- label_daily: labels per (project, UTC day, annotator or 0 when imported, choice, swap).
- label_times: human labels per (project, annotator, time spent), the time kept to 0.1 s
  under a minute, 1 s under 10 minutes, then to the minute.
- agreement_units: each labelled comparison's counts of worse / same / better.
- agreement_patterns: comparisons per (project, day of their last label, counts), in 16
  shards by comparison id so that concurrent labels rarely wait on one row.

On PostgreSQL the units are updated first (row locks taken in comparison order) and the
pattern they left is derived from the locked row (`prev_day`, the new counts less the
statement's own), so concurrent labels on one comparison cannot double-count.

Re-chain note: 0005 and 0006 are reserved for other branches; this revises 0004 until the
lead re-chains it on merge.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 16


def time_key(ms: str) -> str:
    return (
        f"CASE WHEN {ms} < 60000 THEN ({ms} / 100) * 100 "
        f"WHEN {ms} < 600000 THEN ({ms} / 1000) * 1000 "
        f"ELSE ({ms} / 60000) * 60000 END"
    )


def _create_tables() -> None:
    op.create_table(
        "label_daily",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.String(length=8), nullable=False),
        sa.Column("shown_swapped", sa.Boolean(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_label_daily_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id",
            "day",
            "annotator_id",
            "choice",
            "shown_swapped",
            name=op.f("pk_label_daily"),
        ),
    )
    op.create_table(
        "label_times",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("time_ms", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_label_times_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "annotator_id", "time_ms", name=op.f("pk_label_times")
        ),
    )
    op.create_table(
        "agreement_units",
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("worse", sa.Integer(), nullable=False),
        sa.Column("same", sa.Integer(), nullable=False),
        sa.Column("better", sa.Integer(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("prev_day", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_agreement_units_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("comparison_id", name=op.f("pk_agreement_units")),
    )
    op.create_table(
        "agreement_patterns",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("worse", sa.Integer(), nullable=False),
        sa.Column("same", sa.Integer(), nullable=False),
        sa.Column("better", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_agreement_patterns_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id",
            "last_day",
            "worse",
            "same",
            "better",
            "shard",
            name=op.f("pk_agreement_patterns"),
        ),
    )


def _backfill(day: str) -> None:
    """The rollups of the labels already there, in the same terms the triggers use."""
    op.execute(
        f"""
        INSERT INTO label_daily (project_id, day, annotator_id, choice, shown_swapped, n)
        SELECT c.project_id, {day.format("l.created_at")}, coalesce(l.annotator_id, 0),
               l.choice, l.shown_swapped, count(*)
        FROM labels l JOIN comparisons c ON c.id = l.comparison_id
        GROUP BY 1, 2, 3, 4, 5
        """
    )
    op.execute(
        f"""
        INSERT INTO label_times (project_id, annotator_id, time_ms, n)
        SELECT c.project_id, l.annotator_id, {time_key("l.time_spent_ms")}, count(*)
        FROM labels l JOIN comparisons c ON c.id = l.comparison_id
        WHERE l.annotator_id IS NOT NULL AND l.time_spent_ms IS NOT NULL
        GROUP BY 1, 2, 3
        """
    )
    op.execute(
        f"""
        INSERT INTO agreement_units (comparison_id, project_id, worse, same, better, last_day)
        SELECT l.comparison_id, c.project_id,
               sum(CASE WHEN l.choice = 'worse' THEN 1 ELSE 0 END),
               sum(CASE WHEN l.choice = 'same' THEN 1 ELSE 0 END),
               sum(CASE WHEN l.choice = 'better' THEN 1 ELSE 0 END),
               max({day.format("l.created_at")})
        FROM labels l JOIN comparisons c ON c.id = l.comparison_id
        GROUP BY 1, 2
        """
    )
    op.execute(
        f"""
        INSERT INTO agreement_patterns (project_id, last_day, worse, same, better, shard, units)
        SELECT project_id, last_day, worse, same, better, comparison_id % {SHARDS}, count(*)
        FROM agreement_units GROUP BY 1, 2, 3, 4, 5, 6
        """
    )


# ---- PostgreSQL: statement-level triggers over transition tables ----

PG_DAY = "(({}) AT TIME ZONE 'UTC')::date"


def _pg_apply(rows: str, sign: int) -> str:
    """SQL that adds (sign 1) or removes (sign -1) the labels in transition table `rows`."""
    day = PG_DAY.format("l.created_at")
    # A removed label may have been the comparison's latest: the day is counted again.
    last_day = (
        "greatest(u.last_day, excluded.last_day)"
        if sign > 0
        else f"coalesce((SELECT max({PG_DAY.format('x.created_at')}) FROM labels x "
        "WHERE x.comparison_id = u.comparison_id), u.last_day)"
    )
    return f"""
    INSERT INTO label_daily AS d (project_id, day, annotator_id, choice, shown_swapped, n)
    SELECT c.project_id, {day}, coalesce(l.annotator_id, 0), l.choice, l.shown_swapped, {sign} * count(*)
    FROM {rows} l JOIN comparisons c ON c.id = l.comparison_id
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (project_id, day, annotator_id, choice, shown_swapped)
    DO UPDATE SET n = d.n + excluded.n;

    INSERT INTO label_times AS t (project_id, annotator_id, time_ms, n)
    SELECT c.project_id, l.annotator_id, {time_key("l.time_spent_ms")}, {sign} * count(*)
    FROM {rows} l JOIN comparisons c ON c.id = l.comparison_id
    WHERE l.annotator_id IS NOT NULL AND l.time_spent_ms IS NOT NULL
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_id, annotator_id, time_ms) DO UPDATE SET n = t.n + excluded.n;

    WITH delta AS (
        SELECT l.comparison_id, c.project_id,
               {sign} * sum(CASE WHEN l.choice = 'worse' THEN 1 ELSE 0 END) AS dw,
               {sign} * sum(CASE WHEN l.choice = 'same' THEN 1 ELSE 0 END) AS ds,
               {sign} * sum(CASE WHEN l.choice = 'better' THEN 1 ELSE 0 END) AS db,
               max({day}) AS day
        FROM {rows} l JOIN comparisons c ON c.id = l.comparison_id
        GROUP BY 1, 2
    ), units AS (
        INSERT INTO agreement_units AS u (comparison_id, project_id, worse, same, better, last_day, prev_day)
        SELECT comparison_id, project_id, dw, ds, db, day, NULL FROM delta ORDER BY comparison_id
        ON CONFLICT (comparison_id) DO UPDATE SET
            worse = u.worse + excluded.worse, same = u.same + excluded.same,
            better = u.better + excluded.better,
            last_day = {last_day}, prev_day = u.last_day
        RETURNING u.comparison_id, u.project_id, u.worse, u.same, u.better, u.last_day, u.prev_day
    ), moves AS (
        SELECT u.project_id, u.last_day, u.worse, u.same, u.better, u.comparison_id % {SHARDS} AS shard, 1 AS units
        FROM units u
        UNION ALL
        SELECT u.project_id, u.prev_day, u.worse - d.dw, u.same - d.ds, u.better - d.db,
               u.comparison_id % {SHARDS}, -1
        FROM units u JOIN delta d USING (comparison_id)
        WHERE u.prev_day IS NOT NULL
    )
    INSERT INTO agreement_patterns AS p (project_id, last_day, worse, same, better, shard, units)
    SELECT project_id, last_day, worse, same, better, shard, sum(units) FROM moves
    GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(units) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (project_id, last_day, worse, same, better, shard)
    DO UPDATE SET units = p.units + excluded.units;
    """


def _pg_upgrade() -> None:
    for event, body in (
        ("insert", _pg_apply("new_rows", 1)),
        ("delete", _pg_apply("old_rows", -1)),
        ("update", _pg_apply("old_rows", -1) + _pg_apply("new_rows", 1)),
    ):
        op.execute(
            f"""
            CREATE FUNCTION labels_rollup_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
            {body}
            RETURN NULL;
            END $$;
            """
        )
    op.execute(
        "CREATE TRIGGER labels_rollup_insert AFTER INSERT ON labels REFERENCING NEW TABLE AS "
        "new_rows FOR EACH STATEMENT EXECUTE FUNCTION labels_rollup_insert()"
    )
    op.execute(
        "CREATE TRIGGER labels_rollup_delete AFTER DELETE ON labels REFERENCING OLD TABLE AS "
        "old_rows FOR EACH STATEMENT EXECUTE FUNCTION labels_rollup_delete()"
    )
    op.execute(
        "CREATE TRIGGER labels_rollup_update AFTER UPDATE ON labels REFERENCING OLD TABLE AS "
        "old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION labels_rollup_update()"
    )


def _pg_downgrade() -> None:
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS labels_rollup_{event} ON labels")
        op.execute(f"DROP FUNCTION IF EXISTS labels_rollup_{event}()")


# ---- SQLite: row-level triggers (writers are serialised, so no races to guard) ----


def _sqlite_apply(row: str, sign: int) -> str:
    project = f"(SELECT project_id FROM comparisons WHERE id = {row}.comparison_id)"
    day = f"date({row}.created_at)"
    daily_key = (
        f"project_id = {project} AND day = {day} AND annotator_id = coalesce({row}.annotator_id, 0) "
        f"AND choice = {row}.choice AND shown_swapped = {row}.shown_swapped"
    )
    times_key = (
        f"project_id = {project} AND annotator_id = {row}.annotator_id "
        f"AND time_ms = {time_key(f'{row}.time_spent_ms')}"
    )
    last_day = (
        f"max(last_day, {day})"
        if sign > 0
        else "coalesce((SELECT max(date(x.created_at)) FROM labels x "
        f"WHERE x.comparison_id = {row}.comparison_id), last_day)"
    )
    unit = f"(SELECT project_id, last_day, worse, same, better, comparison_id % {SHARDS} FROM agreement_units WHERE comparison_id = {row}.comparison_id)"
    pattern_key = "(project_id, last_day, worse, same, better, shard)"
    return f"""
    INSERT OR IGNORE INTO label_daily (project_id, day, annotator_id, choice, shown_swapped, n)
    VALUES ({project}, {day}, coalesce({row}.annotator_id, 0), {row}.choice, {row}.shown_swapped, 0);
    UPDATE label_daily SET n = n + ({sign}) WHERE {daily_key};
    INSERT OR IGNORE INTO label_times (project_id, annotator_id, time_ms, n)
    SELECT {project}, {row}.annotator_id, {time_key(f"{row}.time_spent_ms")}, 0
    WHERE {row}.annotator_id IS NOT NULL AND {row}.time_spent_ms IS NOT NULL;
    UPDATE label_times SET n = n + ({sign})
    WHERE {row}.annotator_id IS NOT NULL AND {row}.time_spent_ms IS NOT NULL AND {times_key};
    UPDATE agreement_patterns SET units = units - 1 WHERE {pattern_key} = {unit};
    INSERT OR IGNORE INTO agreement_units (comparison_id, project_id, worse, same, better, last_day)
    VALUES ({row}.comparison_id, {project}, 0, 0, 0, {day});
    UPDATE agreement_units SET
        worse = worse + ({sign}) * ({row}.choice = 'worse'),
        same = same + ({sign}) * ({row}.choice = 'same'),
        better = better + ({sign}) * ({row}.choice = 'better'),
        last_day = {last_day}
    WHERE comparison_id = {row}.comparison_id;
    INSERT OR IGNORE INTO agreement_patterns (project_id, last_day, worse, same, better, shard, units)
    SELECT project_id, last_day, worse, same, better, comparison_id % {SHARDS}, 0
    FROM agreement_units WHERE comparison_id = {row}.comparison_id;
    UPDATE agreement_patterns SET units = units + 1 WHERE {pattern_key} = {unit};
    """


def _sqlite_upgrade() -> None:
    op.execute(
        f"CREATE TRIGGER labels_rollup_insert AFTER INSERT ON labels BEGIN {_sqlite_apply('NEW', 1)} END"
    )
    op.execute(
        f"CREATE TRIGGER labels_rollup_delete AFTER DELETE ON labels BEGIN {_sqlite_apply('OLD', -1)} END"
    )
    op.execute(
        "CREATE TRIGGER labels_rollup_update AFTER UPDATE ON labels BEGIN "
        f"{_sqlite_apply('OLD', -1)} {_sqlite_apply('NEW', 1)} END"
    )


def _sqlite_downgrade() -> None:
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS labels_rollup_{event}")


def upgrade() -> None:
    _create_tables()
    if op.get_bind().dialect.name == "postgresql":
        _backfill(PG_DAY)
        _pg_upgrade()
    else:
        _backfill("date({})")
        _sqlite_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_downgrade()
    else:
        _sqlite_downgrade()
    for table in ("agreement_patterns", "agreement_units", "label_times", "label_daily"):
        op.drop_table(table)
