"""64 annotators label while the server is SIGKILLed and restarted: no acknowledged label is lost.

Clients retry with their idempotency keys; afterwards every acknowledged key is in the
database exactly once, under the label id its acknowledgement named, every label in the
database is one a client sent, and each comparison's label_count matches its labels.
bench/chaos.py runs the same for longer.
"""

from __future__ import annotations

import random
from pathlib import Path

from harness.crash_load import run_chaos, seed, verify
from harness.databases import backend, fresh_database, migrated_engine
from harness.processes import free_port, rlhf_env

ANNOTATORS = 64
SECONDS = 20.0
KILLS = 3


def test_sigkilled_server_loses_no_acknowledged_label(tmp_path: Path) -> None:
    rng = random.Random(7)
    with fresh_database(tmp_path) as url:
        engine = migrated_engine(url, tmp_path)
        try:
            seeded = seed(engine, annotators=ANNOTATORS, comparisons=300)
            # SQLite: one server process (one writer at a time anyway); PostgreSQL: two.
            workers = 1 if backend() == "sqlite" else 2
            run = run_chaos(
                free_port(),
                rlhf_env(url, tmp_path),
                seeded,
                seconds=SECONDS,
                kills=KILLS,
                server_workers=workers,
                log=tmp_path / "server.log",
                rng=rng,
            )
            verdict = verify(engine, seeded.project_id, run.ledger)
        finally:
            engine.dispose()

    ledger = run.ledger
    print(
        f"\n[{backend()}] {run.kills} SIGKILLs survived (restarts took "
        f"{', '.join(f'{s:.1f}' for s in run.restart_s)} s); {ANNOTATORS} annotators; "
        f"{verdict.acked} labels acknowledged, {verdict.labels_in_db} in the database; "
        f"{ledger.retries} retried requests, {ledger.acked_on_retry} labels acknowledged on "
        f"a retry, {ledger.replayed} of them replays of a committed first attempt; "
        f"{verdict.unacked_committed} committed but never acknowledged; failed attempts: "
        f"{dict(ledger.failures)}"
    )
    assert run.kills == KILLS
    assert not ledger.refused, ledger.refused[:5]
    assert ledger.gave_up == 0
    assert verdict.acked > 200, "too little load to prove anything"
    assert ledger.acked_on_retry > 0, "no label was in flight during a kill"
    assert not verdict.missing, f"acknowledged labels lost: {verdict.missing[:5]}"
    assert not verdict.duplicated
    assert not verdict.unknown
    assert not verdict.wrong_id
    assert verdict.unacked_committed == 0
    assert verdict.labels_in_db == verdict.acked
    assert not verdict.count_mismatches
