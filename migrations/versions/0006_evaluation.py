"""blind evaluation: named response sources, evaluation pairs, reward-model scores

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 16:00:00

Hand-checked. Chained to 0004 while 0005 (quality control) is on its own branch; the lead
re-chains it to 0005 on merge. Nothing here touches what 0005 changes.

- responses.model_name: the name of an imported response's source (a `pairs` row's
  `model_a` / `model_b`), so imported battles count on the leaderboard. Responses a model
  version wrote keep naming it by model_version_id.
- comparisons.evaluation: a blind evaluation pair (made by an `evaluate` job), left out of
  reward training and of the trl export unless asked for. Existing pairs are not.
- reward_scores: a reward model version's score (and its uncertainty, when the model gives
  one) of a response, written by the worker, so the server can show the reward model's
  verdicts beside the humans' without loading a model.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: a nullable column, and a NOT NULL one with a
    # default, need no table rebuild on SQLite.
    op.add_column("responses", sa.Column("model_name", sa.String(length=200), nullable=True))
    op.add_column(
        "comparisons",
        sa.Column("evaluation", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "reward_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reward_version_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("uncertainty", sa.Float(), nullable=True),
        sa.Column("created_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_reward_scores_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reward_version_id"],
            ["model_versions.id"],
            name=op.f("fk_reward_scores_reward_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_scores")),
        sa.UniqueConstraint(
            "reward_version_id",
            "response_id",
            name=op.f("uq_reward_scores_reward_version_id_response_id"),
        ),
    )
    op.create_index(
        op.f("ix_reward_scores_response_id"), "reward_scores", ["response_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_reward_scores_response_id"), table_name="reward_scores")
    op.drop_table("reward_scores")
    # SQLite drops a column by rebuilding the table (app.migrate runs it with foreign keys
    # off, so the rebuild cascades nowhere).
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.drop_column("evaluation")
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("model_name")
