"""job kinds `evaluate` and `dpo`

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 15:20:00

The jobs table refuses kinds it does not know (a CHECK constraint); blind evaluation of
policy versions and DPO training are two new kinds. On SQLite a CHECK constraint changes only
by rebuilding the table, which `app.migrate` runs with foreign keys off (a rebuild drops the
old table, and with foreign keys on that would cascade into job_metrics and model_versions).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "kind IN ('generate', 'reward', 'ppo', 'iterate')"
NEW = "kind IN ('generate', 'reward', 'ppo', 'iterate', 'evaluate', 'dpo')"


def _replace_check(condition: str) -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_jobs_kind_valid"), type_="check")
        batch_op.create_check_constraint("kind_valid", condition)


def upgrade() -> None:
    _replace_check(NEW)


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE kind IN ('evaluate', 'dpo')")
    _replace_check(OLD)
