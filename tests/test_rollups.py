"""The rollup tables that triggers keep (migration 0007) equal a fresh count of the labels,
whichever way labels arrive or leave: one at a time, an import, a delete, and on
PostgreSQL many annotators labelling the same comparisons at once."""

from __future__ import annotations

import io
import json
import random
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from app.importing.parsers import ImportFormat
from app.importing.pipeline import import_preferences
from app.models import Comparison, Label
from app.rollup_tables import SHARDS, AgreementPattern, LabelDaily, LabelTimes
from harness.databases import backend
from tests.factories import make_comparison, make_label, make_project, make_user


def time_key(ms: int) -> int:
    for limit, step in ((60_000, 100), (600_000, 1000)):
        if ms < limit:
            return ms // step * step
    return ms // 60_000 * 60_000


def recount(session: Session, project_id: int) -> dict[str, Counter[Any]]:
    """What the rollups should hold, counted from the labels themselves."""
    rows = session.execute(
        select(Label)
        .join(Comparison, Comparison.id == Label.comparison_id)
        .where(Comparison.project_id == project_id)
    ).scalars()
    daily: Counter[Any] = Counter()
    times: Counter[Any] = Counter()
    units: dict[int, list[Any]] = {}
    for label in rows:
        day = label.created_at.astimezone(UTC).date()
        daily[(day, label.annotator_id or 0, label.choice, label.shown_swapped)] += 1
        if label.annotator_id is not None and label.time_spent_ms is not None:
            times[(label.annotator_id, time_key(label.time_spent_ms))] += 1
        unit = units.setdefault(label.comparison_id, [0, 0, 0, day])
        unit[("worse", "same", "better").index(label.choice)] += 1
        unit[3] = max(unit[3], day)
    patterns: Counter[Any] = Counter()
    for comparison_id, (w, s, b, day) in units.items():
        patterns[(day, w, s, b, comparison_id % SHARDS)] += 1
    return {"daily": daily, "times": times, "patterns": patterns}


def rollups(session: Session, project_id: int) -> dict[str, Counter[Any]]:
    session.expire_all()
    daily: Counter[Any] = Counter()
    for r in session.scalars(select(LabelDaily).where(LabelDaily.project_id == project_id)):
        if r.n:
            daily[(r.day, r.annotator_id, r.choice, r.shown_swapped)] = r.n
    times: Counter[Any] = Counter()
    for t in session.scalars(select(LabelTimes).where(LabelTimes.project_id == project_id)):
        if t.n:
            times[(t.annotator_id, t.time_ms)] = t.n
    patterns: Counter[Any] = Counter()
    for p in session.scalars(
        select(AgreementPattern).where(AgreementPattern.project_id == project_id)
    ):
        if p.units and p.worse + p.same + p.better > 0:
            patterns[(p.last_day, p.worse, p.same, p.better, p.shard)] = p.units
    return {"daily": daily, "times": times, "patterns": patterns}


def test_rollups_follow_inserts_imports_and_deletes(db: Session) -> None:
    rng = random.Random(3)
    project = make_project(db, labels_per_comparison=3)
    people = [make_user(db) for _ in range(4)]
    comparisons = [make_comparison(db, project) for _ in range(12)]
    now = datetime.now(UTC)
    made = []
    for comparison in comparisons:
        for person in rng.sample(people, rng.randint(1, 3)):
            made.append(
                make_label(
                    db,
                    comparison,
                    annotator=person,
                    choice=rng.choice(["better", "worse", "same"]),
                    shown_swapped=rng.random() < 0.5,
                    time_spent_ms=rng.choice([None, 800, 4321, 15_500, 70_000, 1_000_000]),
                    created_at=now - timedelta(days=rng.randint(0, 9), hours=rng.randint(0, 23)),
                )
            )
    lines = [
        json.dumps({"prompt": f"imported {i}", "chosen": f"good {i}", "rejected": f"bad {i}"})
        for i in range(20)
    ]
    import_preferences(db, project.id, io.BytesIO("\n".join(lines).encode()), ImportFormat.trl)
    db.flush()
    assert rollups(db, project.id) == recount(db, project.id)
    # Deleting labels (one statement, several rows) takes them back out.
    gone = [label.id for label in made[::3]]
    db.execute(delete(Label).where(Label.id.in_(gone)))
    db.flush()
    assert rollups(db, project.id) == recount(db, project.id)
    assert sum(rollups(db, project.id)["daily"].values()) == len(made) - len(gone) + 20


@pytest.mark.skipif(backend() != "postgres", reason="concurrent writers: PostgreSQL")
def test_rollups_stay_exact_under_concurrent_labels(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        project = make_project(session, labels_per_comparison=8)
        people = [make_user(session) for _ in range(8)]
        targets = [make_comparison(session, project).id for _ in range(4)]
        project_id, person_ids = project.id, [p.id for p in people]
    failures: list[BaseException] = []

    def annotate(person_id: int, seed: int) -> None:
        rng = random.Random(seed)
        try:
            for comparison_id in rng.sample(targets, len(targets)):
                with Session(engine) as session, session.begin():
                    session.add(
                        Label(
                            comparison_id=comparison_id,
                            annotator_id=person_id,
                            source="human",
                            choice=rng.choice(["better", "worse", "same"]),
                            shown_swapped=False,
                            time_spent_ms=rng.randint(1000, 9000),
                            idempotency_key=f"race-{person_id}-{comparison_id}",
                        )
                    )
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=annotate, args=(p, n)) for n, p in enumerate(person_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not failures, failures
        with Session(engine) as session:
            counted = recount(session, project_id)
            assert sum(counted["patterns"].values()) == len(targets)
            assert rollups(session, project_id) == counted
    finally:
        with Session(engine) as session, session.begin():
            session.execute(delete(Comparison).where(Comparison.project_id == project_id))
            session.delete(session.get_one(type(project), project_id))
