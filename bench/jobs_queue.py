"""The jobs queue without training: how fast workers claim, report and finish jobs.

Enqueues JOBS empty jobs, then WORKERS threads (each with its own connections, like worker
processes) drain the queue: claim, REPORTS progress reports, complete, each a short
transaction as in the real worker. Prints jobs/s and the latency of one claim and of one
progress report (median and p95), on SQLite (WAL file) and on PostgreSQL (if reachable).
Checks on the way that no job was claimed twice.

    .venv/bin/python bench/jobs_queue.py [--jobs 500] [--workers 4] [--reports 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import Engine, select  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from app.db import make_sessionmaker  # noqa: E402
from app.models import Job, Project  # noqa: E402
from app.queries import jobs as job_queries  # noqa: E402
from harness.databases import fresh_database, migrated_engine  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(engine: Engine, jobs: int, workers: int, reports: int) -> dict[str, float]:
    sessions = make_sessionmaker(engine)
    with sessions() as session, session.begin():
        project = Project(name="bench", guidelines="", generation_settings={}, training_settings={})
        session.add(project)
        session.flush()
        for _ in range(jobs):
            job_queries.enqueue_job(
                session, project_id=project.id, kind="generate", params={}, max_attempts=3
            )
    claims: list[float] = []
    report_times: list[float] = []
    done: list[int] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        mine_claims, mine_reports, mine_done = [], [], []
        while True:
            t0 = time.perf_counter()
            with sessions() as session, session.begin():
                job = job_queries.claim_next_job(session, name, lease_s=60)
                job_id = None if job is None else job.id
            mine_claims.append(time.perf_counter() - t0)
            if job_id is None:
                break
            for step in range(reports):
                t0 = time.perf_counter()
                with sessions() as session, session.begin():
                    job_queries.record_progress(
                        session, job_id, name, step, step / reports, {"loss": 1.0 / (step + 1)}
                    )
                mine_reports.append(time.perf_counter() - t0)
            with sessions() as session, session.begin():
                job_queries.complete_job(session, job_id, name)
            mine_done.append(job_id)
        with lock:
            claims.extend(mine_claims)
            report_times.extend(mine_reports)
            done.extend(mine_done)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert len(done) == len(set(done)) == jobs, "a job was claimed twice or lost"
    with sessions() as session:
        statuses = set(session.scalars(select(Job.status)))
    assert statuses == {"succeeded"}, statuses
    return {
        "jobs_per_s": jobs / elapsed,
        "claim_ms_p50": 1000 * statistics.median(claims),
        "claim_ms_p95": 1000 * percentile(claims, 0.95),
        "report_ms_p50": 1000 * statistics.median(report_times),
        "report_ms_p95": 1000 * percentile(report_times, 0.95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--reports", type=int, default=10)
    args = parser.parse_args()
    for kind in ("sqlite", "postgres"):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                with fresh_database(Path(tmp), kind) as url:
                    engine = migrated_engine(url, Path(tmp))
                    try:
                        figures = run(engine, args.jobs, args.workers, args.reports)
                    finally:
                        engine.dispose()
            except OperationalError as exc:
                print(f"{kind}: skipped ({type(exc.orig).__name__})")
                continue
        shown = ", ".join(f"{k} {v:.1f}" for k, v in figures.items())
        print(
            f"{kind}: {args.jobs} jobs, {args.workers} workers, "
            f"{args.reports} reports each: {shown}"
        )


if __name__ == "__main__":
    main()
