"""an index on comparisons.pair_hash alone, for imports to find known pairs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:10:00

An import looks up each pair it has seen before by content hash. Asked for
`project_id = ? AND pair_hash = ?`, PostgreSQL can answer from the unique (project_id,
pair_hash) index or from the queue index (project_id, priority, id) with a filter. When the
statistics are older than the project's rows (a large import or seed that autovacuum has not
analysed yet) both look like one-row reads, and the planner took the queue index, which walks
the project's whole queue for every line: a re-import after a 1M-label seed never finished.
On this index the lookup has only one way to go (see app/queries/imports.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_comparisons_pair_hash", "comparisons", ["pair_hash"])


def downgrade() -> None:
    op.drop_index("ix_comparisons_pair_hash", table_name="comparisons")
