"""Chaos run: annotators label while the server is SIGKILLed and restarted again and again.

The long form of tests/reliability/test_server_crash.py. N simulated annotators loop (next
pair, label with a fresh idempotency key, retry the same request with the same key after a
dropped connection or a 5xx until acknowledged) while the server's whole process group is
killed with SIGKILL at random moments and started again. Afterwards the database is checked
against the clients' ledger and the script prints what it found; it exits non-zero if any
acknowledged label is missing or doubled.

    .venv/bin/python bench/chaos.py [--db sqlite|postgres] [--seconds 120] [--kills 10]
                                    [--annotators 64] [--workers N] [--seed 1]

Everything runs on 127.0.0.1: a fresh database (PostgreSQL at RLHF_TEST_PG_ADMIN_URL or
127.0.0.1:5432) is created and dropped by the script.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.crash_load import run_chaos, seed, verify  # noqa: E402
from harness.databases import fresh_database, migrated_engine  # noqa: E402
from harness.processes import free_port, rlhf_env  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--annotators", type=int, default=64)
    parser.add_argument("--comparisons", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=None, help="server processes")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    workers = args.workers or (1 if args.db == "sqlite" else 2)

    with tempfile.TemporaryDirectory(prefix="rlhf-chaos-") as tmp:
        data_dir = Path(tmp)
        with fresh_database(data_dir, args.db) as url:
            engine = migrated_engine(url, data_dir)
            try:
                seeded = seed(engine, annotators=args.annotators, comparisons=args.comparisons)
                started = time.monotonic()
                run = run_chaos(
                    free_port(),
                    rlhf_env(url, data_dir),
                    seeded,
                    seconds=args.seconds,
                    kills=args.kills,
                    server_workers=workers,
                    log=data_dir / "server.log",
                    rng=random.Random(args.seed),
                )
                elapsed = time.monotonic() - started
                verdict = verify(engine, seeded.project_id, run.ledger)
            finally:
                engine.dispose()

    ledger = run.ledger
    print(f"database            {args.db} ({workers} server process(es))")
    print(f"annotators          {args.annotators}")
    print(f"run                 {elapsed:.0f} s")
    print(f"SIGKILLs survived   {run.kills}")
    if run.restart_s:
        print(
            f"restart time        median {statistics.median(run.restart_s):.1f} s, "
            f"max {max(run.restart_s):.1f} s"
        )
    print(f"labels acknowledged {verdict.acked}")
    print(f"labels in database  {verdict.labels_in_db}")
    print(f"acked on a retry    {ledger.acked_on_retry} ({ledger.replayed} replays of a commit)")
    print(f"retried requests    {ledger.retries}")
    print(f"failed attempts     {dict(ledger.failures.most_common(6))}")
    print(f"missing             {len(verdict.missing)}")
    print(f"duplicated          {len(verdict.duplicated)}")
    print(f"unknown keys        {len(verdict.unknown)}")
    print(f"wrong label ids     {len(verdict.wrong_id)}")
    print(
        f"committed, unacked  {verdict.unacked_committed} (clients that gave up: {ledger.gave_up})"
    )
    print(f"label_count drift   {len(verdict.count_mismatches)}")
    print(f"refused (4xx)       {len(ledger.refused)}")
    broken = (
        verdict.missing
        or verdict.duplicated
        or verdict.unknown
        or verdict.wrong_id
        or verdict.count_mismatches
        or ledger.refused
    )
    print("verdict             " + ("LOST OR DOUBLED LABELS" if broken else "nothing lost"))
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
