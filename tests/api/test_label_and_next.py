"""POST /projects/{id}/labels: a label and the caller's next pair in one round trip."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Assignment, Label, Role
from tests.auth_helpers import bearer
from tests.factories import make_comparison, make_project, make_token, make_user


def _rater(db: Session) -> tuple[int, dict[str, str]]:
    user = make_user(db, role=Role.annotator)
    _, plain = make_token(db, user)
    return user.id, bearer(plain)


def test_label_and_next_stores_the_label_and_leases_the_next_pair(
    client: TestClient, db: Session
) -> None:
    project = make_project(db)
    first = make_comparison(db, project, priority=2)
    second = make_comparison(db, project, priority=1)
    user_id, headers = _rater(db)
    db.commit()
    url = f"/api/v1/projects/{project.id}/labels"
    shown = client.get(f"/api/v1/projects/{project.id}/next", headers=headers).json()
    assert shown["comparison_id"] == first.id
    body = {
        "comparison_id": first.id,
        "idempotency_key": shown["idempotency_key"],
        "choice": "same",
    }

    answer = client.post(url, json=body, headers=headers)

    assert answer.status_code == 201, answer.text
    got = answer.json()
    assert got["label"]["comparison_id"] == first.id
    assert got["label"]["choice"] == "same"
    assert got["next"]["comparison_id"] == second.id
    assert got["next"]["idempotency_key"] != shown["idempotency_key"]
    lease = db.get(Assignment, (second.id, user_id))
    assert lease is not None and lease.status == "leased"

    retried = client.post(url, json=body, headers=headers)
    assert retried.status_code == 200
    assert retried.json()["label"] == got["label"]
    assert retried.json()["next"]["comparison_id"] == second.id
    assert db.scalar(select(func.count()).select_from(Label)) == 1

    last = {"comparison_id": second.id, "idempotency_key": uuid.uuid4().hex, "choice": "better"}
    done = client.post(url, json=last, headers=headers)
    assert done.status_code == 201
    assert done.json()["next"] is None


def test_label_and_next_for_an_unknown_project_stores_nothing(
    client: TestClient, db: Session
) -> None:
    project = make_project(db)
    comparison = make_comparison(db, project)
    _, headers = _rater(db)
    db.commit()
    body = {"comparison_id": comparison.id, "idempotency_key": uuid.uuid4().hex, "choice": "worse"}
    answer = client.post("/api/v1/projects/424242/labels", json=body, headers=headers)
    assert answer.status_code == 404
    assert db.scalar(select(func.count()).select_from(Label)) == 0
