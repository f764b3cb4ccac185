"""The PostgreSQL import's lookups keep to their index when the statistics are stale.

A re-import after a 1M-label seed once hung: the statistics, taken before the seed, made
`project_id = ? AND pair_hash = ? LIMIT 1` look as cheap on the queue index (walking the
project's whole queue per line) as on the unique index. Here the statistics are taken while
another project holds 50 comparisons and this one none, and 20,000 arrive after: the old
lookup took the queue index in exactly this state.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.importing.staged import StagedWriter
from app.queries import imports as sql
from tests.factories import make_project

pytestmark = pytest.mark.postgres_only  # the PostgreSQL import path

_SEED = """
WITH p AS (INSERT INTO prompts (project_id, messages, content_hash, source, created_at)
           VALUES (:project, CAST('[]' AS JSONB), 'p', 'seed', now()) RETURNING id),
r AS (INSERT INTO responses (prompt_id, text, content_hash, source, created_at)
      SELECT p.id, v, v, 'seed', now() FROM p, (VALUES ('a'), ('b')) AS t(v) RETURNING id)
INSERT INTO comparisons (project_id, prompt_id, response_a_id, response_b_id, pair_hash,
                         priority, source, label_count, created_at)
SELECT :project, p.id, (SELECT min(id) FROM r), (SELECT max(id) FROM r), md5(:project || '/' || i), 0,
       'seed', 0, now()
FROM p, generate_series(1, :n) AS i
"""


def plan(writer: StagedWriter, statement: str) -> str:
    with writer.conn.cursor() as cursor:
        cursor.execute("EXPLAIN " + statement, writer.params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_known_pairs_are_found_by_hash_on_stale_statistics(db: Session) -> None:
    project = make_project(db)
    db.execute(text(_SEED), {"project": make_project(db).id, "n": 50})
    db.execute(text("ANALYZE comparisons"))
    db.execute(text(_SEED), {"project": project.id, "n": 20_000})
    writer = StagedWriter(db, project.id, "import:pairs", queue=False)
    try:
        for statement in (sql.FIND_KNOWN, sql.INSERT_LABELS):
            shown = plan(writer, statement)
            assert "ix_comparisons_pair_hash" in shown, shown
            assert "ix_comparisons_queue" not in shown, shown
    finally:
        writer.close()
