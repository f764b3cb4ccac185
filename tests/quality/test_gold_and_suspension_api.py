"""Gold mixing in the queue and suspension, through the annotator API (SQLite and PostgreSQL:
on PostgreSQL the pick is `rlhf_take_next`, on SQLite the Python path)."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Assignment, Comparison, Label, Project, Role
from app.rating import gold_draw, gold_mixing_key
from tests.auth_helpers import bearer
from tests.factories import make_comparison, make_project, make_token, make_user


def _rater(db: Session) -> tuple[int, dict[str, str]]:
    user = make_user(db, role=Role.annotator)
    return user.id, bearer(make_token(db, user)[1])


def _admin(db: Session) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, role=Role.admin))[1])


def _gold_project(db: Session, *, normal: int, gold: int, rate: float) -> tuple[Project, set[int]]:
    project = make_project(db, labels_per_comparison=1, gold_rate=rate)
    for _ in range(normal):
        make_comparison(db, project)
    golds = set()
    for _ in range(gold):
        comparison = make_comparison(db, project)
        comparison.gold_choice = "better"
        golds.add(comparison.id)
    db.flush()
    return project, golds


def _label_all(client: TestClient, project_id: int, headers: dict[str, str]) -> list[int]:
    """Labels until the queue is empty; the comparison ids in the order they were served."""
    served = []
    shown = client.get(f"/api/v1/projects/{project_id}/next", headers=headers)
    while shown.status_code == 200:
        pair = shown.json()
        served.append(pair["comparison_id"])
        body = {
            "comparison_id": pair["comparison_id"],
            "idempotency_key": pair["idempotency_key"],
            "choice": "worse",
        }
        answer = client.post(f"/api/v1/projects/{project_id}/labels", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        if answer.json()["next"] is None:
            shown = client.get(f"/api/v1/projects/{project_id}/next", headers=headers)
        else:
            shown.status_code, pair = 200, answer.json()["next"]
            shown = _Fake(pair)
    assert shown.status_code == 204
    return served


class _Fake:
    status_code = 200

    def __init__(self, body: dict[str, object]) -> None:
        self._body = body

    def json(self) -> dict[str, object]:
        return self._body


def test_gold_is_served_at_the_drawn_rate_once_per_person_and_beside_the_overlap(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    project, golds = _gold_project(db, normal=40, gold=25, rate=0.3)
    first_id, first = _rater(db)
    second_id, second = _rater(db)
    db.commit()
    key = gold_mixing_key(app.state.settings.ensure_secret_key())

    served = _label_all(client, project.id, first)

    # The draw is a keyed hash of (annotator, pairs closed so far): replay it.
    expected_gold, left = [], set(golds)
    for closed, _ in enumerate(served):
        if left and gold_draw(key, first_id, closed) < 0.3:
            expected_gold.append(True)
            left.pop()
        else:
            expected_gold.append(False)
    assert [c in golds for c in served] == expected_gold
    assert 0 < sum(expected_gold) < len(golds)
    assert len(served) == len(set(served)) == 40 + sum(expected_gold)
    # The overlap is full: the second annotator gets no normal pair (gold comes only as a
    # share of normal work, so none either).
    served_second = _label_all(client, project.id, second)
    assert set(served_second) <= golds
    per_pair = db.execute(
        select(Label.comparison_id, func.count())
        .join(Comparison, Comparison.id == Label.comparison_id)
        .where(Comparison.project_id == project.id, Comparison.gold_choice.is_(None))
        .group_by(Label.comparison_id)
    ).all()
    assert {n for _, n in per_pair} == {1}
    assert second_id != first_id


def test_a_gold_pair_looks_like_any_other(client: TestClient, db: Session) -> None:
    project, golds = _gold_project(db, normal=1, gold=1, rate=1.0)
    _, headers = _rater(db)
    db.commit()
    gold = client.get(f"/api/v1/projects/{project.id}/next", headers=headers).json()
    assert gold["comparison_id"] in golds
    body = {"comparison_id": gold["comparison_id"], "idempotency_key": gold["idempotency_key"]}
    answer = client.post(
        f"/api/v1/projects/{project.id}/labels", json={**body, "choice": "same"}, headers=headers
    ).json()
    normal = answer["next"]
    assert normal["comparison_id"] not in golds
    assert set(gold) == set(normal)
    assert set(answer["label"]) == set(
        client.post("/api/v1/labels", json={**body, "choice": "same"}, headers=headers).json()
    )
    # Labelled once already, the gold pair still goes to the next person: never counted
    # toward the labels per comparison.
    _, other = _rater(db)
    db.commit()
    again = client.get(f"/api/v1/projects/{project.id}/next", headers=other).json()
    assert again["comparison_id"] == gold["comparison_id"]


def test_suspension_stops_the_queue_and_acknowledges_retries(
    client: TestClient, db: Session
) -> None:
    project = make_project(db, labels_per_comparison=1)
    for _ in range(3):
        make_comparison(db, project)
    user_id, headers = _rater(db)
    admin = _admin(db)
    db.commit()
    pair = client.get(f"/api/v1/projects/{project.id}/next", headers=headers).json()
    body = {
        "comparison_id": pair["comparison_id"],
        "idempotency_key": pair["idempotency_key"],
        "choice": "better",
    }
    first = client.post("/api/v1/labels", json=body, headers=headers)
    assert first.status_code == 201
    pending = client.get(f"/api/v1/projects/{project.id}/next", headers=headers).json()

    url = f"/api/v1/projects/{project.id}/annotators/{user_id}"
    suspended = client.post(f"{url}/suspend", json={"reason": "clicks at random"}, headers=admin)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"

    refused = client.get(f"/api/v1/projects/{project.id}/next", headers=headers)
    assert refused.status_code == 403 and "suspended" in refused.json()["detail"]
    # The label sent before the suspension, retried with its key: acknowledged, not doubled.
    retried = client.post("/api/v1/labels", json=body, headers=headers)
    assert retried.status_code == 200 and retried.json()["id"] == first.json()["id"]
    retried_and_next = client.post(
        f"/api/v1/projects/{project.id}/labels", json=body, headers=headers
    )
    assert retried_and_next.status_code == 200 and retried_and_next.json()["next"] is None
    new = {**body, "comparison_id": pending["comparison_id"], "idempotency_key": uuid.uuid4().hex}
    assert client.post("/api/v1/labels", json=new, headers=headers).status_code == 403
    assert db.scalar(select(func.count()).select_from(Label)) == 1

    assert (
        client.post(f"{url}/reinstate", json={"reason": "talked"}, headers=admin).json()["status"]
        == "ok"
    )
    assert client.get(f"/api/v1/projects/{project.id}/next", headers=headers).status_code == 200
    history = client.get(f"{url}/history", headers=admin).json()
    assert [(e["old_status"], e["new_status"]) for e in history] == [
        (None, "suspended"),
        ("suspended", "ok"),
    ]
    assert history[0]["actor"].startswith("admin:") and history[0]["reason"] == "clicks at random"
    assert db.get(Assignment, (pair["comparison_id"], user_id)) is not None


def test_gold_answers_and_rates_are_validated(client: TestClient, db: Session) -> None:
    project = make_project(db)
    comparison = make_comparison(db, project)
    admin = _admin(db)
    db.commit()
    url = f"/api/v1/comparisons/{comparison.id}"
    assert client.patch(url, json={"gold": "worse"}, headers=admin).json()["gold"] == "worse"
    db.refresh(comparison)
    assert comparison.gold_choice == "worse"
    assert client.patch(url, json={"gold": None}, headers=admin).json()["gold"] is None
    bad = client.patch(url, json={"gold": "maybe"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "gold"
    assert (
        client.patch("/api/v1/comparisons/987654", json={"gold": "same"}, headers=admin).status_code
        == 404
    )
    rate = client.patch(f"/api/v1/projects/{project.id}", json={"gold_rate": 1.5}, headers=admin)
    assert rate.status_code == 422 and "gold_rate" in rate.json()["detail"][0]["loc"]
    ok = client.patch(
        f"/api/v1/projects/{project.id}",
        json={"gold_rate": 0.05, "quality_thresholds": {"suspend_gold_accuracy_below": 0.4}},
        headers=admin,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["gold_rate"] == 0.05
    assert ok.json()["quality_thresholds"] == {"suspend_gold_accuracy_below": 0.4}
    unknown = client.patch(
        f"/api/v1/projects/{project.id}", json={"quality_thresholds": {"nope": 1}}, headers=admin
    )
    assert unknown.status_code == 422


def test_pairs_import_carries_gold_in_the_stored_order(client: TestClient, db: Session) -> None:
    project = make_project(db)
    admin = _admin(db)
    db.commit()
    lines = [
        f'{{"prompt": "q{i} {uuid.uuid4().hex}", "response_a": "first {i}", "response_b": "second {i}", "gold": "better"}}'
        for i in range(12)
    ]
    answer = client.post(
        f"/api/v1/projects/{project.id}/import?format=pairs",
        content="\n".join(lines).encode(),
        headers=admin,
    )
    assert answer.status_code == 200, answer.text
    rows = db.execute(
        select(Comparison.gold_choice, Comparison.response_b_id, Comparison.response_a_id).where(
            Comparison.project_id == project.id
        )
    ).all()
    from app.models import Response

    for gold, b_id, _ in rows:
        b_text = db.get(Response, b_id).text  # type: ignore[union-attr]
        # "second" is better than "first", whichever side it was stored on.
        assert gold == ("better" if b_text.startswith("second") else "worse")
    assert {g for g, _, _ in rows} == {"better", "worse"}  # the order was randomised
    bad = client.post(
        f"/api/v1/projects/{project.id}/import?format=pairs",
        content=b'{"prompt": "p", "response_a": "a", "response_b": "b", "gold": "yes"}\n',
        headers=admin,
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["line"] == 1 and "gold" in bad.json()["detail"][0]["message"]
