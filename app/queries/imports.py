"""Set-based import statements on PostgreSQL, reading a batch staged in `import_rows`.

Each batch of parsed lines is copied into a temporary table; these statements then write
the prompts, responses, comparisons and labels of the whole batch, a statement or two per
table. Every insert is ON CONFLICT DO NOTHING (another import may be writing the same
content) and keeps the ids it created in a temporary table by RETURNING; only the rows
that an insert skipped are looked up, by content hash, in a statement of their own.

Lookups probe an index once per key: a LATERAL subquery fenced with OFFSET 0, which the
planner can neither turn into a join nor push conditions into. The planner's statistics lag
behind a long import (or a seed autovacuum has not analysed yet), and a hash or merge join
would read the project's whole table for every batch. LIMIT 1 would fence too, but it asks
for the plan that finds a first row soonest, and on stale statistics that was a walk of the
comparisons queue index filtered by hash, once per line. So no probe has a choice of index:
prompts and responses have one index that leads with their key, and comparisons are found
by `pair_hash` alone (ix_comparisons_pair_hash; the same pair may be in other projects, so
the project is checked outside the fence).
"""

from __future__ import annotations

_TABLES = (
    "pg_temp.import_rows, pg_temp.import_known, pg_temp.import_prompts,"
    " pg_temp.import_responses, pg_temp.import_created"
)
# One row per pair in the batch (the writer drops repeats); the prompt's messages and a
# response's text come only with their first row in the batch, NULL after, so that no
# statement has to sort hashes (text sorts cost microseconds a row) to find them.
CREATE_STAGING = (
    f"DROP TABLE IF EXISTS {_TABLES}",
    # na, nb: the names of the sources of A and B (a `pairs` row's model_a, model_b), staged
    # with their response's text.
    "CREATE TEMPORARY TABLE import_rows (line integer NOT NULL, ph text NOT NULL, m text,"
    " ha text NOT NULL, ta text, hb text NOT NULL, tb text, h text NOT NULL, c text, s text,"
    " na text, nb text, g text) ON COMMIT DROP",
    # Ids resolved for the batch, so that each statement joins them instead of probing the
    # tables' indexes again; inserts fill them from RETURNING.
    "CREATE TEMPORARY TABLE import_known (h text NOT NULL, cid integer NOT NULL,"
    " a_hash text NOT NULL) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE import_prompts (ph text NOT NULL, id integer NOT NULL) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE import_responses (pid integer NOT NULL, rh text NOT NULL,"
    " id integer NOT NULL) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE import_created (h text NOT NULL, cid integer NOT NULL) ON COMMIT DROP",
    # For the rest of this transaction only. The batch's sorts are a few MB, which the
    # default work_mem would spill to disk. The staging tables are never analysed: on their
    # row estimates the planner picks merge joins that sort by hash, and costs high enough
    # to compile every statement with JIT, which takes longer than running it.
    "SELECT set_config('work_mem', '64MB', true), set_config('enable_mergejoin', 'off', true),"
    " set_config('jit', 'off', true)",
)
DROP_STAGING = f"DROP TABLE IF EXISTS {_TABLES}"
CLEAR_STAGING = (
    "TRUNCATE import_rows, import_known, import_prompts, import_responses, import_created"
)
COPY_ROWS = "COPY import_rows (line, ph, m, ha, ta, hb, tb, h, c, s, na, nb, g) FROM STDIN"

# Pairs stored already, found with one probe each. Run when the previous batch was mostly
# duplicates (a re-import); on new data the probe would find nothing, and the statements
# below would skip nothing.
FIND_KNOWN = """
INSERT INTO import_known
SELECT f.h, k.id, a.content_hash
FROM import_rows f
CROSS JOIN LATERAL (SELECT id, response_a_id, project_id FROM comparisons
                    WHERE pair_hash = f.h OFFSET 0) k
JOIN responses a ON a.id = k.response_a_id
WHERE k.project_id = %(project)s
"""

# Rows whose pair is not known: these need a prompt, two responses and a comparison.
_NEW_ROWS = (
    "(SELECT * FROM import_rows r WHERE NOT EXISTS (SELECT FROM import_known k WHERE k.h = r.h))"
)

INSERT_PROMPTS = f"""
WITH created AS (
  INSERT INTO prompts (project_id, messages, content_hash, source, created_at)
  SELECT %(project)s, CAST(n.m AS JSONB), n.ph, %(source)s, %(now)s
  FROM {_NEW_ROWS} n
  WHERE n.m IS NOT NULL
  ORDER BY n.line
  ON CONFLICT DO NOTHING
  RETURNING content_hash, id
)
INSERT INTO import_prompts SELECT content_hash, id FROM created
"""

# A separate statement, so that it sees prompts that a concurrent import committed after
# the insert above began (and which that insert skipped).
FIND_PROMPTS = f"""
INSERT INTO import_prompts
SELECT x.ph, p.id
FROM (SELECT DISTINCT n.ph FROM {_NEW_ROWS} n
      WHERE NOT EXISTS (SELECT FROM import_prompts i WHERE i.ph = n.ph)) x
CROSS JOIN LATERAL (SELECT id FROM prompts
                    WHERE project_id = %(project)s AND content_hash = x.ph OFFSET 0) p
"""

INSERT_RESPONSES = f"""
WITH created AS (
  INSERT INTO responses (prompt_id, text, content_hash, source, model_name, created_at)
  SELECT p.id, d.t, d.rh, %(source)s, d.name, %(now)s
  FROM (SELECT n.ph, v.rh, v.t, v.name, n.line, v.side
        FROM {_NEW_ROWS} n
        CROSS JOIN LATERAL (VALUES (n.ha, n.ta, n.na, 0), (n.hb, n.tb, n.nb, 1))
          AS v(rh, t, name, side)
        WHERE v.t IS NOT NULL) d
  JOIN import_prompts p ON p.ph = d.ph
  ORDER BY d.line, d.side
  ON CONFLICT DO NOTHING
  RETURNING prompt_id, content_hash, id
)
INSERT INTO import_responses SELECT prompt_id, content_hash, id FROM created
"""

FIND_RESPONSES = f"""
INSERT INTO import_responses
SELECT x.pid, x.rh, r.id
FROM (SELECT DISTINCT p.id AS pid, v.rh
      FROM {_NEW_ROWS} n
      JOIN import_prompts p ON p.ph = n.ph
      CROSS JOIN LATERAL (VALUES (n.ha), (n.hb)) AS v(rh)
      WHERE NOT EXISTS (SELECT FROM import_responses i WHERE i.pid = p.id AND i.rh = v.rh)) x
CROSS JOIN LATERAL (SELECT id FROM responses
                    WHERE prompt_id = x.pid AND content_hash = x.rh OFFSET 0) r
"""

# label_count is set here for the labels that INSERT_LABELS adds to new comparisons,
# rather than by an UPDATE of every new row.
INSERT_COMPARISONS = f"""
WITH created AS (
  INSERT INTO comparisons (project_id, prompt_id, response_a_id, response_b_id, pair_hash,
                           priority, source, label_count, created_at)
  SELECT %(project)s, p.id, ra.id, rb.id, d.h, 0, %(source)s,
         CASE WHEN d.c IS NOT NULL AND %(counted)s THEN 1 ELSE 0 END, %(now)s
  FROM {_NEW_ROWS} d
  JOIN import_prompts p ON p.ph = d.ph
  JOIN import_responses ra ON ra.pid = p.id AND ra.rh = d.ha
  JOIN import_responses rb ON rb.pid = p.id AND rb.rh = d.hb
  ORDER BY d.line
  ON CONFLICT DO NOTHING
  RETURNING pair_hash, id
)
INSERT INTO import_created SELECT pair_hash, id FROM created
"""

# The pair's first line in the batch (the only one staged) carries its label, which follows the stored A/B order: a
# comparison created just now has this line's A; one from elsewhere may be the other way
# round. Pairs neither created nor known (a concurrent import won the insert, or the known
# pairs were not looked up) are probed here. Returns the comparisons created, the older
# comparisons labelled now, and the pairs that found no comparison (must be 0).
INSERT_LABELS = """
WITH d AS (SELECT line, h, ha, c, s FROM import_rows),
resolved AS MATERIALIZED (
  SELECT d.*, n.cid, d.ha AS a_hash FROM d JOIN import_created n ON n.h = d.h
  UNION ALL
  SELECT d.*, k.cid, k.a_hash FROM d JOIN import_known k ON k.h = d.h
  UNION ALL
  SELECT d.*, k.id, a.content_hash
  FROM d
  LEFT JOIN LATERAL (SELECT id, response_a_id, project_id FROM comparisons
                     WHERE pair_hash = d.h OFFSET 0) k ON k.project_id = %(project)s
  LEFT JOIN responses a ON a.id = k.response_a_id
  WHERE NOT EXISTS (SELECT FROM import_created n WHERE n.h = d.h)
    AND NOT EXISTS (SELECT FROM import_known k WHERE k.h = d.h)
),
labelled AS (
  INSERT INTO labels (comparison_id, annotator_id, source, choice, strength, feedback,
                      flag_harmful, flag_untrue, flag_unhelpful, shown_swapped, time_spent_ms,
                      idempotency_key, created_at)
  SELECT d.cid, NULL, %(source)s,
         CASE WHEN d.a_hash = d.ha OR d.c = 'same' THEN d.c
              WHEN d.c = 'better' THEN 'worse' ELSE 'better' END,
         d.s, '', false, false, false, false, NULL, %(key_prefix)s || d.h, %(now)s
  FROM resolved d
  WHERE d.c IS NOT NULL AND d.cid IS NOT NULL
  ORDER BY d.line
  ON CONFLICT DO NOTHING
  RETURNING comparison_id
),
older AS (
  SELECT comparison_id FROM labelled
  WHERE comparison_id NOT IN (SELECT cid FROM import_created)
),
counted AS (
  UPDATE comparisons SET label_count = label_count + 1 FROM older
  WHERE comparisons.id = older.comparison_id AND %(counted)s
)
SELECT (SELECT count(*) FROM import_created), (SELECT count(*) FROM older),
       (SELECT count(*) FROM resolved WHERE cid IS NULL)
"""

# Gold answers (`g`, in the line's A/B order) onto their comparisons, which the statements
# above created or found; turned round where the stored comparison has A and B the other way.
SET_GOLD = """
UPDATE comparisons c
SET gold_choice = CASE WHEN a.content_hash = r.ha OR r.g = 'same' THEN r.g
                       WHEN r.g = 'better' THEN 'worse' ELSE 'better' END
FROM import_rows r
CROSS JOIN LATERAL (SELECT id, response_a_id, project_id FROM comparisons
                    WHERE pair_hash = r.h OFFSET 0) k
JOIN responses a ON a.id = k.response_a_id
WHERE r.g IS NOT NULL AND k.project_id = %(project)s AND c.id = k.id
"""

BATCH_STATEMENTS = (
    INSERT_PROMPTS,
    FIND_PROMPTS,
    INSERT_RESPONSES,
    FIND_RESPONSES,
    INSERT_COMPARISONS,
)
