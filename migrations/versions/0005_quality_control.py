"""quality control: gold mixing, annotator statuses with their history, reliability snapshots

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 16:00:00

- projects: `gold_rate` (0..1, the share of an annotator's pairs that are gold) and
  `quality_thresholds` (overrides of the automatic flagging and suspension rules).
- comparisons: a partial index over gold pairs (`gold_choice IS NOT NULL`), which only the
  gold path reads; the normal pick leaves them out.
- annotator_quality: one row per (project, annotator) with the status (ok, watch, flagged,
  suspended), its reasons and the annotator's vote weight; annotator_status_events: every
  change of it, with who or what made it and why; reliability_snapshots: the last
  computation per project, which the annotators endpoint answers from.
- PostgreSQL: `rlhf_take_next` gains the gold path and refuses suspended annotators (a new
  argument, so it is dropped and created; the downgrade restores 0002's), and
  `rlhf_queue_frontier` skips gold pairs. The Python twin is app/queries/queue/serialised.py.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_CHECK = "status IN ('ok', 'watch', 'flagged', 'suspended')"
NEW_STATUS_CHECK = "new_status IN ('ok', 'watch', 'flagged', 'suspended')"

# Outcomes as in 0002, plus 'suspended' (the annotator may not rate this project). The gold
# path: when the project mixes gold in, a keyed hash of (annotator, number of pairs they have
# closed) decides whether this pick is gold (app/queries/queue/common.py `gold_draw` is the
# same formula); then the first gold pair they have not closed is leased, whatever its label
# count. Gold pairs never come out of the normal pick.
TAKE_NEXT = """
CREATE FUNCTION rlhf_take_next(
    p_project integer, p_user integer, p_now timestamptz, p_expires timestamptz,
    p_from_priority integer, p_from_id integer, p_attempts integer, p_gold_key text
) RETURNS TABLE (
    outcome text, comparison_id integer, project_id integer, messages text,
    text_a text, text_b text
) LANGUAGE plpgsql VOLATILE
-- See 0002: plans cached while the tables were near empty must not become sequential scans.
SET enable_seqscan = off
AS $$
DECLARE
    v_wanted integer;
    v_gold_rate double precision;
    v_pick integer;
    v_held boolean;
    v_gold boolean := false;
    v_closed bigint;
    v_leased integer;
    v_from_priority integer := p_from_priority;
    v_from_id integer := p_from_id;
BEGIN
    SELECT p.labels_per_comparison, p.gold_rate INTO v_wanted, v_gold_rate
    FROM projects p WHERE p.id = p_project;
    IF NOT FOUND THEN
        outcome := 'no_project';
        RETURN NEXT;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM annotator_quality q
               WHERE q.project_id = p_project AND q.user_id = p_user
                 AND q.status = 'suspended') THEN
        outcome := 'suspended';
        RETURN NEXT;
        RETURN;
    END IF;
    FOR attempt IN 1..p_attempts LOOP
        SELECT a.comparison_id INTO v_pick
        FROM assignments a JOIN comparisons c ON c.id = a.comparison_id
        WHERE a.user_id = p_user AND a.status = 'leased' AND a.expires_at > p_now
          AND c.project_id = p_project
        ORDER BY a.expires_at DESC
        LIMIT 1;
        v_held := FOUND;
        IF NOT v_held AND attempt = 1 AND v_gold_rate > 0 THEN
            SELECT count(*) INTO v_closed FROM assignments a
            WHERE a.user_id = p_user AND a.status IN ('skipped', 'done');
            IF ('x' || substr(encode(sha256(convert_to(
                    p_gold_key || ':' || p_user || ':' || v_closed, 'UTF8')), 'hex'), 1, 8)
                )::bit(32)::bigint / 4294967296.0 < v_gold_rate THEN
                SELECT c.id INTO v_pick
                FROM comparisons c
                WHERE c.project_id = p_project AND c.gold_choice IS NOT NULL
                  AND (SELECT count(*) FROM assignments a
                       WHERE a.comparison_id = c.id AND a.user_id = p_user
                         AND a.status IN ('skipped', 'done')) = 0
                ORDER BY c.priority DESC, c.id DESC
                LIMIT 1;
                v_gold := FOUND;
            END IF;
        END IF;
        IF NOT v_held AND NOT v_gold THEN
            SELECT c.id INTO v_pick
            FROM comparisons c
            WHERE c.project_id = p_project
              AND (c.priority, c.id) <= (v_from_priority, v_from_id)
              AND c.label_count < v_wanted
              AND c.gold_choice IS NULL
              -- A count, not NOT EXISTS: see 0002.
              AND (SELECT count(*) FROM assignments a
                   WHERE a.comparison_id = c.id AND a.user_id = p_user
                     AND a.status IN ('skipped', 'done')) = 0
              AND c.label_count + (
                  SELECT count(*) FROM assignments a
                  WHERE a.comparison_id = c.id AND a.status = 'leased'
                    AND a.expires_at > p_now AND a.user_id <> p_user) < v_wanted
            ORDER BY c.priority DESC, c.id DESC
            LIMIT 1
            FOR UPDATE OF c SKIP LOCKED;
            IF NOT FOUND THEN
                IF (v_from_priority, v_from_id) < (2147483647, 2147483647) THEN
                    v_from_priority := 2147483647;
                    v_from_id := 2147483647;
                    CONTINUE;
                END IF;
                outcome := 'empty';
                RETURN NEXT;
                RETURN;
            END IF;
        END IF;
        -- A new statement, so a new snapshot (see 0002). A gold pair has no slots to fill.
        INSERT INTO assignments AS cur (comparison_id, user_id, status, expires_at, created_at)
        SELECT c.id, p_user, 'leased', p_expires, p_now
        FROM comparisons c
        WHERE c.id = v_pick
          AND (v_held OR v_gold OR c.label_count + (
              SELECT count(*) FROM assignments a
              WHERE a.comparison_id = c.id AND a.status = 'leased'
                AND a.expires_at > p_now AND a.user_id <> p_user) < v_wanted)
        ON CONFLICT ON CONSTRAINT pk_assignments DO UPDATE
            SET status = 'leased', expires_at = EXCLUDED.expires_at
            WHERE cur.status = 'leased'
        RETURNING cur.comparison_id INTO v_leased;
        IF v_leased IS NOT NULL THEN
            PERFORM set_config('synchronous_commit', 'off', true);
            RETURN QUERY
            SELECT 'ok'::text, c.id, c.project_id, pr.messages::text, ra.text, rb.text
            FROM comparisons c
            JOIN prompts pr ON pr.id = c.prompt_id
            JOIN responses ra ON ra.id = c.response_a_id
            JOIN responses rb ON rb.id = c.response_b_id
            WHERE c.id = v_leased;
            RETURN;
        END IF;
        v_gold := false;
    END LOOP;
    outcome := 'busy';
    RETURN NEXT;
END
$$
"""

FRONTIER = """
CREATE OR REPLACE FUNCTION rlhf_queue_frontier(p_project integer, p_now timestamptz)
RETURNS TABLE (priority integer, id integer) LANGUAGE sql STABLE
SET enable_seqscan = off
AS $$
    SELECT c.priority, c.id
    FROM comparisons c JOIN projects p ON p.id = c.project_id
    WHERE c.project_id = p_project
      AND c.label_count < p.labels_per_comparison
      AND c.gold_choice IS NULL
      AND c.label_count + (
          SELECT count(*) FROM assignments a
          WHERE a.comparison_id = c.id AND a.status = 'leased' AND a.expires_at > p_now)
          < p.labels_per_comparison
    ORDER BY c.priority DESC, c.id DESC
    LIMIT 1
$$
"""

OLD_SIGNATURE = "integer, integer, timestamptz, timestamptz, integer, integer, integer"
NEW_SIGNATURE = OLD_SIGNATURE + ", text"


def _revision_0002() -> ModuleType:
    path = Path(__file__).with_name("0002_take_next_function.py")
    spec = importlib.util.spec_from_file_location("rlhf_migration_0002", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("gold_rate", sa.Float(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "quality_thresholds",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                server_default=sa.text("'{}'"),
                nullable=False,
            )
        )
        batch_op.create_check_constraint("gold_rate_range", "gold_rate >= 0 AND gold_rate <= 1")
    # The gold draw counts an annotator's closed assignments: from the index alone with the
    # status in it. It replaces the index on user_id alone, which it serves as well.
    op.drop_index("ix_assignments_user_id", table_name="assignments")
    op.create_index("ix_assignments_user_status", "assignments", ["user_id", "status"])
    gold = sa.text("gold_choice IS NOT NULL")
    op.create_index(
        "ix_comparisons_gold",
        "comparisons",
        ["project_id", "priority", "id"],
        postgresql_where=gold,
        sqlite_where=gold,
    )
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    op.create_table(
        "annotator_quality",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reasons", json_type, nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("vote_weight", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(STATUS_CHECK, name=op.f("ck_annotator_quality_status_valid")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_annotator_quality_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_annotator_quality_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "user_id", name=op.f("pk_annotator_quality")),
    )
    op.create_index(
        op.f("ix_annotator_quality_user_id"), "annotator_quality", ["user_id"], unique=False
    )
    op.create_table(
        "annotator_status_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("old_status", sa.String(length=16), nullable=True),
        sa.Column("new_status", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            NEW_STATUS_CHECK, name=op.f("ck_annotator_status_events_new_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_annotator_status_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_annotator_status_events_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_annotator_status_events_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotator_status_events")),
    )
    op.create_index(
        "ix_annotator_status_events_project_user",
        "annotator_status_events",
        ["project_id", "user_id", "id"],
        unique=False,
    )
    op.create_table(
        "reliability_snapshots",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("labels", sa.Integer(), nullable=False),
        sa.Column("max_label_id", sa.BigInteger(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("body", json_type, nullable=False),
        sa.Column("computing_since", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_reliability_snapshots_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_reliability_snapshots")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION rlhf_take_next({OLD_SIGNATURE})")
        op.execute(TAKE_NEXT)
        op.execute(FRONTIER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        old = _revision_0002()
        op.execute(f"DROP FUNCTION rlhf_take_next({NEW_SIGNATURE})")
        op.execute(old.TAKE_NEXT)
        op.execute(old.FRONTIER.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.drop_table("reliability_snapshots")
    op.drop_index("ix_annotator_status_events_project_user", table_name="annotator_status_events")
    op.drop_table("annotator_status_events")
    op.drop_index(op.f("ix_annotator_quality_user_id"), table_name="annotator_quality")
    op.drop_table("annotator_quality")
    op.drop_index("ix_comparisons_gold", table_name="comparisons")
    op.drop_index("ix_assignments_user_status", table_name="assignments")
    op.create_index("ix_assignments_user_id", "assignments", ["user_id"])
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_projects_gold_rate_range"), type_="check")
        batch_op.drop_column("quality_thresholds")
        batch_op.drop_column("gold_rate")
