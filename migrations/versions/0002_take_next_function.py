"""take_next as one PostgreSQL function; an index of live leases

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 17:35:00

The annotator's `next` request picks a comparison under a row lock and then leases it in a
second statement whose fresh snapshot sees every lease committed before the lock was granted
(see app/queries/queue). Sent from the server that is BEGIN, pick, lease, COMMIT: four round
trips on every request. A PL/pgSQL function runs the same statements (each still with its
own snapshot: the function is VOLATILE and the server runs READ COMMITTED) in one call.
SQLite has no such functions and keeps its serialised Python path.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Outcomes: 'ok' (leased, content returned), 'empty' (nothing open to this annotator),
# 'no_project', 'busy' (every attempt lost its race). The caller passes where its cached
# queue position says the open part starts; a stale position is retried once from the top.
TAKE_NEXT = """
CREATE FUNCTION rlhf_take_next(
    p_project integer, p_user integer, p_now timestamptz, p_expires timestamptz,
    p_from_priority integer, p_from_id integer, p_attempts integer
) RETURNS TABLE (
    outcome text, comparison_id integer, project_id integer, messages text,
    text_a text, text_b text
) LANGUAGE plpgsql VOLATILE
-- Every statement here is a walk of an index or a lookup by key. A new project's tables are
-- near empty when their statistics are taken, and a plan cached then (a sequential scan of
-- assignments inside the per-row subqueries) stays while the tables grow: 20 ms a pick
-- after a few thousand labels, instead of a fraction of one.
SET enable_seqscan = off
AS $$
DECLARE
    v_wanted integer;
    v_pick integer;
    v_held boolean;
    v_leased integer;
    v_from_priority integer := p_from_priority;
    v_from_id integer := p_from_id;
BEGIN
    SELECT p.labels_per_comparison INTO v_wanted FROM projects p WHERE p.id = p_project;
    IF NOT FOUND THEN
        outcome := 'no_project';
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
        IF NOT v_held THEN
            SELECT c.id INTO v_pick
            FROM comparisons c
            WHERE c.project_id = p_project
              AND (c.priority, c.id) <= (v_from_priority, v_from_id)
              AND c.label_count < v_wanted
              -- A count, not NOT EXISTS: the planner turns NOT EXISTS into an anti-join
              -- that reads all of this annotator's assignments on every pick (thousands
              -- after a day's work); this stays one primary-key probe per walked row.
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
        -- A new statement, so a new snapshot: it sees every lease committed before the
        -- pick's row lock was granted and cannot over-lease.
        INSERT INTO assignments AS cur (comparison_id, user_id, status, expires_at, created_at)
        SELECT c.id, p_user, 'leased', p_expires, p_now
        FROM comparisons c
        WHERE c.id = v_pick
          AND (v_held OR c.label_count + (
              SELECT count(*) FROM assignments a
              WHERE a.comparison_id = c.id AND a.status = 'leased'
                AND a.expires_at > p_now AND a.user_id <> p_user) < v_wanted)
        ON CONFLICT ON CONSTRAINT pk_assignments DO UPDATE
            SET status = 'leased', expires_at = EXCLUDED.expires_at
            WHERE cur.status = 'leased'
        RETURNING cur.comparison_id INTO v_leased;
        IF v_leased IS NOT NULL THEN
            -- Losing a lease in a crash only offers the pair again: no WAL flush wait.
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
    END LOOP;
    outcome := 'busy';
    RETURN NEXT;
END
$$
"""

# Where the open part of a project's queue starts: the caller caches it for a second, so a
# pick walks past a second's worth of labelled rows instead of all of them.
FRONTIER = """
CREATE FUNCTION rlhf_queue_frontier(p_project integer, p_now timestamptz)
RETURNS TABLE (priority integer, id integer) LANGUAGE sql STABLE
SET enable_seqscan = off
AS $$
    SELECT c.priority, c.id
    FROM comparisons c JOIN projects p ON p.id = c.project_id
    WHERE c.project_id = p_project
      AND c.label_count < p.labels_per_comparison
      AND c.label_count + (
          SELECT count(*) FROM assignments a
          WHERE a.comparison_id = c.id AND a.status = 'leased' AND a.expires_at > p_now)
          < p.labels_per_comparison
    ORDER BY c.priority DESC, c.id DESC
    LIMIT 1
$$
"""


def upgrade() -> None:
    # The held-lease check read every assignment of the annotator (a day's labels) per pick.
    leased = sa.text("status = 'leased'")
    op.create_index(
        "ix_assignments_user_leased",
        "assignments",
        ["user_id"],
        postgresql_where=leased,
        sqlite_where=leased,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(TAKE_NEXT)
        op.execute(FRONTIER)


def downgrade() -> None:
    op.drop_index("ix_assignments_user_leased", table_name="assignments")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION rlhf_queue_frontier(integer, timestamptz)")
        op.execute(
            "DROP FUNCTION rlhf_take_next(integer, integer, timestamptz, timestamptz,"
            " integer, integer, integer)"
        )
