"""The trl export trusts only trusted labels and counts what it left out; raw keeps all."""

from __future__ import annotations

import orjson
from sqlalchemy.orm import Session

from app.models import AnnotatorStatus
from app.queries import quality as quality_queries
from tests.api.committed import LiveApp, live  # noqa: F401 - the fixture
from tests.factories import make_comparison, make_label, make_project, make_user


def _seed(app: LiveApp) -> tuple[int, dict[str, int]]:
    with Session(app.engine) as session, session.begin():
        project = make_project(session, labels_per_comparison=2)
        good, bad = make_user(session), make_user(session)
        c1, c2, c3, gold = (make_comparison(session, project) for _ in range(4))
        gold.gold_choice = "better"
        make_label(session, c1, annotator=good, choice="better")
        make_label(session, c1, annotator=bad, choice="worse")
        make_label(session, c2, annotator=bad, choice="better")
        make_label(session, c3, annotator=good, choice="worse")
        make_label(session, gold, annotator=good, choice="better")
        quality_queries.set_status(
            session,
            project.id,
            good.id,
            AnnotatorStatus.ok,
            reasons=[],
            actor="test",
            vote_weight=2.0,
        )
        quality_queries.set_status(
            session,
            project.id,
            bad.id,
            AnnotatorStatus.flagged,
            reasons=["test"],
            actor="test",
            vote_weight=0.5,
        )
        return project.id, {"c1": c1.id, "c2": c2.id, "c3": c3.id, "gold": gold.id}


def _export(app: LiveApp, project_id: int, **params: str) -> tuple[list[dict], dict[str, str]]:
    answer = app.client.get(
        f"/api/v1/projects/{project_id}/export", params=params, headers=app.admin
    )
    assert answer.status_code == 200, answer.text
    rows = [orjson.loads(line) for line in answer.content.splitlines()]
    return rows, dict(answer.headers)


def test_trl_leaves_out_flagged_and_gold_and_counts_them(live: LiveApp) -> None:  # noqa: F811
    project_id, ids = _seed(live)
    rows, headers = _export(live, project_id, schema="trl")
    assert sorted(r["comparison_id"] for r in rows) == sorted([ids["c1"], ids["c3"]])
    assert headers["x-left-out-flagged-labels"] == "2"
    assert headers["x-left-out-gold-comparisons"] == "1"

    rows, headers = _export(live, project_id, schema="trl", include_flagged="true")
    # c1 is now a split (one Better, one Worse): left out as such.
    assert sorted(r["comparison_id"] for r in rows) == sorted([ids["c2"], ids["c3"]])
    assert headers["x-left-out-flagged-labels"] == "0"
    assert headers["x-left-out-splits"] == "1"

    rows, _ = _export(live, project_id, schema="trl", include_flagged="true", aggregation="model")
    by_id = {r["comparison_id"]: r for r in rows}
    # The model weighs the good annotator's Better (2.0) over the flagged one's Worse (0.5).
    assert set(by_id) == {ids["c1"], ids["c2"], ids["c3"]}
    assert by_id[ids["c1"]]["agreement"] == 0.5

    raw, _ = _export(live, project_id, schema="raw")
    assert len(raw) == 5
    assert {r["comparison_id"] for r in raw if r["is_gold"]} == {ids["gold"]}
