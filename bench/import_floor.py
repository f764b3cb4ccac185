"""How far the PostgreSQL import is from the cheapest write of the same rows, with and
without foreign keys.

Writes the same LINES labelled `pairs` lines four times, each into a fresh database, on one
connection in one transaction, as an import must:

    product import   app.importing.pipeline.import_preferences, in-process (no HTTP): parse,
                     de-duplicate, COPY into staging tables, set-based inserts
    COPY floor       the same rows COPYed straight into prompts, responses, comparisons and
                     labels, with ids chosen by the client and the lines parsed beforehand:
                     no de-duplication, no conflict handling, no staging, no parsing. No
                     import of these rows into this schema can cost the database less.

and both again after dropping the foreign keys of those four tables (a measurement only: the
product keeps them). Prints lines/s, the backend's CPU per line and WAL bytes per line.

    .venv/bin/python bench/import_floor.py [--lines 50000]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.config import Settings  # noqa: E402
from app.db import make_engine, session_scope  # noqa: E402
from app.importing.parsers import ImportFormat, parse_line  # noqa: E402
from app.importing.pipeline import import_preferences  # noqa: E402
from app.importing.records import ImportRow, to_row  # noqa: E402
from app.importing.writer import import_key  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from bench.export import pairs_body  # noqa: E402
from bench.pg_scratch import fresh_database  # noqa: E402

SOURCE = "import:pairs"
TABLES = ("prompts", "responses", "comparisons", "labels")


def backend_cpu(pid: int) -> float:
    """CPU seconds a backend on this machine has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def prepare(url: str, *, foreign_keys: bool) -> None:
    """Migrates the fresh database and adds project 1; drops the foreign keys if asked."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(Settings(database_url=url, data_dir=Path(tmp)))
        upgrade(engine)
        engine.dispose()
    with psycopg.connect(plain(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO projects (name, guidelines, labels_per_comparison, generation_settings,"
            " training_settings, created_at) VALUES ('floor', '', 1, '{}', '{}', now())"
        )
        if not foreign_keys:
            found = conn.execute(
                "SELECT conrelid::regclass::text, conname FROM pg_constraint"
                " WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
                (list(TABLES),),
            ).fetchall()
            for table, name in found:
                conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


def product_import(url: str, body: bytes) -> float:
    """The product's import of `body` into project 1; returns its backend's CPU seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(Settings(database_url=url, data_dir=Path(tmp)))
        with session_scope(engine) as session:
            driver = session.connection().connection.driver_connection
            assert isinstance(driver, psycopg.Connection)
            pid = driver.info.backend_pid
            before = backend_cpu(pid)
            import_preferences(session, 1, io.BytesIO(body), ImportFormat.pairs)
            session.commit()
            used = backend_cpu(pid) - before
        engine.dispose()
    return used


def copy_floor(url: str, rows: list[ImportRow]) -> float:
    """COPYs the rows in batches of 5,000 lines (the product's batch) with ids 1, 2, ... (the
    database is fresh); returns the backend's CPU seconds."""
    with psycopg.connect(plain(url)) as conn:
        before = backend_cpu(conn.info.backend_pid)
        now = datetime.now(UTC)
        for start in range(0, len(rows), 5000):
            _copy_batch(conn, rows, start, now)
        conn.commit()
        return backend_cpu(conn.info.backend_pid) - before


def _copy_batch(
    conn: psycopg.Connection[tuple[object, ...]], rows: list[ImportRow], start: int, now: datetime
) -> None:
    prompts, responses, comparisons, labels = [], [], [], []
    for i, row in enumerate(rows[start : start + 5000], start=start):
        prompt_id, a_id, b_id = i + 1, 2 * i + 1, 2 * i + 2
        prompts.append((prompt_id, 1, orjson.dumps(row.messages).decode(), row.prompt_hash))
        responses.append((a_id, prompt_id, row.text_a, row.hash_a))
        responses.append((b_id, prompt_id, row.text_b, row.hash_b))
        comparisons.append((i + 1, 1, prompt_id, a_id, b_id, row.pair_hash, 0, 1))
        choice = row.choice.value if row.choice is not None else None
        labels.append((i + 1, choice, import_key(1, row.pair_hash), "", False, False, False, False))
    targets = (
        ("prompts (id, project_id, messages, content_hash", prompts),
        ("responses (id, prompt_id, text, content_hash", responses),
        (
            "comparisons (id, project_id, prompt_id, response_a_id, response_b_id, pair_hash,"
            " priority, label_count",
            comparisons,
        ),
        (
            "labels (comparison_id, choice, idempotency_key, feedback, flag_harmful,"
            " flag_untrue, flag_unhelpful, shown_swapped",
            labels,
        ),
    )
    with conn.cursor() as cursor:
        for columns, values in targets:
            with cursor.copy(f"COPY {columns}, source, created_at) FROM STDIN") as copy:
                for value in values:
                    copy.write_row((*value, SOURCE, now))


def measure(name: str, url: str, lines: int, write: Callable[[], float]) -> None:
    with psycopg.connect(plain(url), autocommit=True) as probe:
        lsn = probe.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
        assert lsn is not None
        start = time.perf_counter()
        cpu = write()
        elapsed = time.perf_counter() - start
        wal = probe.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", (lsn[0],)
        ).fetchone()
        counts = probe.execute(
            "SELECT (SELECT count(*) FROM comparisons), (SELECT count(*) FROM labels)"
        ).fetchone()
    assert wal is not None
    assert counts == (lines, lines), counts
    print(
        f"{name}: {lines:,} lines in {elapsed:.2f} s = {lines / elapsed:,.0f} lines/s;"
        f" backend CPU {cpu / lines * 1e6:.1f} us per line;"
        f" WAL {float(wal[0]) / lines:,.0f} bytes per line",
        flush=True,
    )


def run(lines: int, body: bytes, rows: list[ImportRow], *, foreign_keys: bool) -> None:
    keys = "with foreign keys" if foreign_keys else "WITHOUT foreign keys"
    with fresh_database() as url:
        prepare(url, foreign_keys=foreign_keys)
        measure(f"product import, {keys}", url, lines, lambda: product_import(url, body))
    with fresh_database() as url:
        prepare(url, foreign_keys=foreign_keys)
        measure(f"COPY floor,     {keys}", url, lines, lambda: copy_floor(url, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=50_000)
    args = parser.parse_args()
    body = pairs_body(args.lines)
    rows = [
        to_row(number, parse_line(ImportFormat.pairs, line))
        for number, line in enumerate(body.splitlines(), start=1)
    ]
    print(f"PostgreSQL, {os.cpu_count()} CPUs; {args.lines:,} pairs lines", flush=True)
    for foreign_keys in (True, False):
        run(args.lines, body, rows, foreign_keys=foreign_keys)


if __name__ == "__main__":
    main()
