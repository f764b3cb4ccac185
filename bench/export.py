"""Export and import over HTTP against `rlhf serve` on PostgreSQL.

Seeds LABELS labels (4 annotators on LABELS/4 comparisons, with SQL INSERT ... SELECT
over generate_series), starts the server, and streams the `raw` JSONL export at several
row counts (the `until` filter selects the first N labels): prints rows per second and the
server process's peak RSS while each export ran, to show that memory does not grow with
the row count. Then imports IMPORT_LINES `pairs` lines through the API and prints rows/s.

    .venv/bin/python bench/export.py [--labels 1000000] [--import-lines 100000] [--import-only]

`--import-only` skips the seed and the exports (the import goes to a fresh project either way).

Everything runs on 127.0.0.1: a fresh database is created and dropped, the server is
started and stopped by the script.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import psutil
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.config import Settings  # noqa: E402
from app.db import make_engine, session_scope  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Role  # noqa: E402
from app.queries import users as user_queries  # noqa: E402
from bench.pg_scratch import fresh_database  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)


def seed(url: str, labels: int) -> None:
    """Project 1 with labels/4 comparisons, each labelled by the same 4 annotators."""
    comparisons = labels // 4
    filler = "This is a response of typical length, with a few sentences of plain text. " * 3
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO projects (name, guidelines, labels_per_comparison, generation_settings,"
            " training_settings, created_at) VALUES ('bench', '', 4, '{}', '{}', now())"
        )
        conn.execute(
            "INSERT INTO users (username, role, is_active, failed_logins, created_at)"
            " SELECT 'annotator' || g, 'annotator', true, 0, now() FROM generate_series(1, 4) g"
        )
        conn.execute(
            "INSERT INTO prompts (project_id, messages, content_hash, source, created_at)"
            " SELECT 1, jsonb_build_array(jsonb_build_object('role', 'user', 'content',"
            " 'Question ' || g || ': how should I plan a week of meals on a budget?')),"
            " md5(g::text), 'bench', now() FROM generate_series(1, %s) g",
            (comparisons,),
        )
        conn.execute(
            "INSERT INTO responses (prompt_id, text, content_hash, source, created_at)"
            " SELECT (g + 1) / 2, %s || ' (' || g || ')', md5('r' || g), 'bench', now()"
            " FROM generate_series(1, %s) g",
            (filler, 2 * comparisons),
        )
        conn.execute(
            "INSERT INTO comparisons (project_id, prompt_id, response_a_id, response_b_id,"
            " pair_hash, priority, source, label_count, created_at)"
            " SELECT 1, g, 2 * g - 1, 2 * g, md5('p' || g), 0, 'bench', 4, now()"
            " FROM generate_series(1, %s) g",
            (comparisons,),
        )
        # Label n (1-based, in id order) is created at START + n seconds: `until` picks the first N.
        conn.execute(
            "INSERT INTO labels (comparison_id, annotator_id, source, choice, strength, feedback,"
            " flag_harmful, flag_untrue, flag_unhelpful, shown_swapped, time_spent_ms,"
            " idempotency_key, created_at)"
            " SELECT c, u, 'human', (ARRAY['better', 'worse', 'same'])[1 + (c * 7 + u) %% 3],"
            " CASE WHEN (c + u) %% 2 = 0 THEN 'slightly' END, CASE WHEN c %% 10 = 0 THEN"
            " 'Too long.' ELSE '' END, false, (c + u) %% 17 = 0, false, (c + u) %% 2 = 1,"
            " 3000 + (c * u) %% 20000, 'bench:' || c || ':' || u,"
            " %s::timestamptz + ((c - 1) * 4 + u) * interval '1 second'"
            " FROM generate_series(1, %s) c CROSS JOIN generate_series(1, 4) u ORDER BY c, u",
            (START, comparisons),
        )
        conn.execute("ANALYZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(url: str, data_dir: Path) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    env = {
        **os.environ,
        "RLHF_DATABASE_URL": url,
        "RLHF_DATA_DIR": str(data_dir),
        "RLHF_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "rlhf"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        yield base, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PeakRss:
    """Polls a process's resident set size in a thread; `peak` is the largest seen."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def export_run(base: str, token: str, process: psutil.Process, rows: int | None) -> None:
    params = {"schema": "raw"}
    if rows is not None:
        params["until"] = (START + timedelta(seconds=rows + 0.5)).isoformat()
    headers = {"Authorization": f"Bearer {token}"}
    start = time.perf_counter()
    cpu_before = sum(process.cpu_times()[:2])
    lines = size = 0
    with (
        PeakRss(process) as rss,
        httpx.stream(
            "GET", f"{base}/api/v1/projects/1/export", params=params, headers=headers, timeout=600
        ) as response,
    ):
        response.raise_for_status()
        announced = int(response.headers["X-Rows-Written"])
        first_byte = time.perf_counter() - start
        for chunk in response.iter_raw(1 << 20):
            lines += chunk.count(b"\n")
            size += len(chunk)
    elapsed = time.perf_counter() - start
    cpu = sum(process.cpu_times()[:2]) - cpu_before
    assert lines == announced, (lines, announced)
    print(
        f"export raw jsonl: {lines:,} rows in {elapsed:.2f} s = {lines / elapsed:,.0f} rows/s"
        f" ({size / elapsed / 1e6:.1f} MB/s, first byte after {first_byte:.2f} s);"
        f" server peak RSS during export {rss.peak / 2**20:.0f} MiB;"
        f" server CPU {cpu:.1f} s = {lines / max(cpu, 1e-9):,.0f} rows per CPU-second;"
        f" load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def pairs_body(lines: int) -> bytes:
    """`lines` labelled `pairs` lines, every prompt and response distinct."""
    return b"".join(
        orjson.dumps(
            {
                "prompt": f"Imported question {i}: what is a good way to learn a language?",
                "response_a": f"Practise every day with short sessions and real conversations. ({i}a)",
                "response_b": f"Read books you enjoy and look up words as you go. ({i}b)",
                "label": ("better", "worse", "same")[i % 3],
            }
        )
        + b"\n"
        for i in range(lines)
    )


def import_run(base: str, token: str, process: psutil.Process, lines: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    project = httpx.post(
        f"{base}/api/v1/projects", json={"name": "import bench"}, headers=headers, timeout=30
    ).json()["id"]
    body = pairs_body(lines)
    for attempt in ("first import", "re-import (all duplicates)"):
        start = time.perf_counter()
        cpu_before = sum(process.cpu_times()[:2])
        pg_before = postgres_cpu()
        with PeakRss(process) as rss:
            response = httpx.post(
                f"{base}/api/v1/projects/{project}/import?format=pairs",
                content=body,
                headers=headers,
                timeout=600,
            )
        elapsed = time.perf_counter() - start
        cpu = sum(process.cpu_times()[:2]) - cpu_before
        pg_cpu = postgres_cpu() - pg_before
        response.raise_for_status()
        result = response.json()
        print(
            f"import pairs, {attempt}: {lines:,} lines ({len(body) / 1e6:.1f} MB) in {elapsed:.2f} s"
            f" = {lines / elapsed:,.0f} rows/s; imported {result['imported']:,},"
            f" duplicates {result['duplicates']:,}; server peak RSS {rss.peak / 2**20:.0f} MiB;"
            f" server CPU {cpu:.1f} s = {cpu / lines * 1e6:.1f} us per line;"
            f" PostgreSQL backends CPU {pg_cpu:.1f} s; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )


def postgres_cpu() -> float:
    """User+system CPU seconds of all PostgreSQL processes now (0 where they cannot be read).

    Includes other databases' backends and autovacuum: a rough figure, meaningful on a
    quiet machine.
    """
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("postgres", "postmaster"):
            with suppress(psutil.Error):
                total += sum(proc.cpu_times()[:2])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--import-lines", type=int, default=100_000)
    parser.add_argument("--import-only", action="store_true", help="skip the seed and exports")
    args = parser.parse_args()
    if args.import_only:
        args.labels = 0
    print(f"PostgreSQL, {os.cpu_count()} CPUs; seeding {args.labels:,} labels ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp, fresh_database() as url:
        data_dir = Path(tmp)
        engine = make_engine(Settings(database_url=url, data_dir=data_dir))
        upgrade(engine)
        start = time.perf_counter()
        if args.labels:
            seed(url.replace("postgresql+psycopg://", "postgresql://"), args.labels)
        print(f"seeded in {time.perf_counter() - start:.1f} s", flush=True)
        with session_scope(engine) as session:
            admin = user_queries.create_user(session, "bench-admin", Role.admin, None)
            _, token = user_queries.create_token(session, admin, "bench")
        engine.dispose()
        with server(url, data_dir) as (base, process):
            print(f"server idle RSS {process.memory_info().rss / 2**20:.0f} MiB", flush=True)
            if args.labels:
                sizes = [n for n in (10_000, 100_000) if n < args.labels]
                for rows in [*sizes, None]:
                    export_run(base, token, process, rows)
            import_run(base, token, process, args.import_lines)
            status = Path(f"/proc/{process.pid}/status").read_text()
            hwm = next(line for line in status.splitlines() if line.startswith("VmHWM"))
            print(f"server lifetime peak RSS ({hwm.split(':')[1].strip()}, VmHWM)", flush=True)


if __name__ == "__main__":
    main()
