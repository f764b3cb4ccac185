""" "A comparison open to this annotator" is written twice: in Python (`open_comparisons`, the
SQLite path, the counts on the rating page) and in PL/pgSQL (`rlhf_take_next` and
`rlhf_queue_frontier`, migration 0002). This runs both on the same random queue states
(labels, skips, live and expired leases of several annotators, several labels wanted per
comparison) and expects the same answers."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.models import Assignment, utcnow
from app.queries.queue import held_lease, open_comparisons
from tests.factories import make_comparison, make_project, make_user

pytestmark = pytest.mark.postgres_only

TOP = (2**31 - 1, 2**31 - 1)
STATES = 12
ANNOTATORS = 4
COMPARISONS = 8
# What an annotator has done with a comparison, and how often a random state has it.
KINDS = ["none", "live", "expired", "skipped", "done"]
WEIGHTS = [40, 15, 15, 15, 15]

_TAKE = text(
    "SELECT outcome, comparison_id FROM rlhf_take_next("
    ":project, :user, :now, :expires, :from_priority, :from_id, 25, 'test-key')"
)
_FRONTIER = text("SELECT id FROM rlhf_queue_frontier(:project, :now)")


def _random_state(db: Session, rng: random.Random) -> tuple[int, int, dict[int, int], list[int]]:
    """A project in a random state: (project id, labels wanted, {comparison: priority}, users)."""
    wanted = rng.randint(1, 3)
    project = make_project(db, labels_per_comparison=wanted)
    priorities = {}
    for _ in range(COMPARISONS):
        comparison = make_comparison(db, project, priority=rng.randint(0, 2))
        # Some full and over-full ones too (imported labels count).
        comparison.label_count = rng.randint(0, wanted + 1)
        priorities[comparison.id] = comparison.priority
    # Gold pairs (migration 0005) are never open to the normal pick; with the project's
    # gold_rate at 0 the gold path never runs.
    for _ in range(2):
        gold = make_comparison(db, project, priority=rng.randint(0, 2))
        gold.gold_choice = "better"
    users = [make_user(db, password=None).id for _ in range(ANNOTATORS)]
    now = utcnow()
    seconds = itertools.count(1)
    for comparison_id, user_id in itertools.product(priorities, users):
        kind = rng.choices(KINDS, WEIGHTS)[0]
        if kind == "none":
            continue
        # Distinct expiry times: the held lease is the latest one, in both implementations.
        expires = {
            "live": now + timedelta(minutes=5, seconds=next(seconds)),
            "expired": now - timedelta(minutes=5, seconds=next(seconds)),
        }.get(kind)
        status = "leased" if expires else kind
        db.add(
            Assignment(
                comparison_id=comparison_id, user_id=user_id, status=status, expires_at=expires
            )
        )
    db.flush()
    return project.id, wanted, priorities, users


def _take(db: Session, project_id: int, user_id: int, start: tuple[int, int]) -> int | None:
    """What `rlhf_take_next` would lease from this queue position; nothing is kept."""
    now = utcnow()
    savepoint = db.begin_nested()
    row = db.execute(
        _TAKE,
        {
            "project": project_id,
            "user": user_id,
            "now": now,
            "expires": now + timedelta(minutes=10),
            "from_priority": start[0],
            "from_id": start[1],
        },
    ).one()
    savepoint.rollback()
    assert row.outcome in ("ok", "empty"), row
    return row.comparison_id if row.outcome == "ok" else None


@pytest.mark.parametrize("seed", range(STATES))
def test_python_and_plpgsql_agree_on_what_is_open(db: Session, seed: int) -> None:
    rng = random.Random(seed)
    project_id, wanted, priorities, users = _random_state(db, rng)
    now = utcnow()
    position = {cid: (priority, cid) for cid, priority in priorities.items()}

    # Someone with no assignments sees what is open to anybody: the frontier's question.
    anybody = list(db.scalars(open_comparisons(project_id, wanted, -1, now)))
    frontier = db.scalar(_FRONTIER, {"project": project_id, "now": now})
    assert frontier == (anybody[0] if anybody else None)

    for user_id in users:
        held = held_lease(db, project_id, user_id, now)
        opened = list(db.scalars(open_comparisons(project_id, wanted, user_id, now)))
        assert [position[c] for c in opened] == sorted((position[c] for c in opened), reverse=True)
        # From every queue position: the first open row at or after it, else from the top.
        for start in [TOP, *position.values()]:
            after = [c for c in opened if position[c] <= start]
            expected = held or (after or opened or [None])[0]
            assert _take(db, project_id, user_id, start) == expected, (user_id, start)
