"""Starting dpo jobs through the API: what is refused with a 422 before any worker sees it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import ModelVersion, Role
from tests.auth_helpers import bearer
from tests.factories import make_project, make_token, make_user


def _start(
    client: TestClient, headers: dict[str, str], project_id: int, kind: str, params: Any
) -> Any:
    body = {"project_id": project_id, "kind": kind, "params": params}
    return client.post("/api/v1/jobs", json=body, headers=headers)


def test_dpo_job_is_accepted_with_defaults_and_given_settings(
    client: TestClient, db: Session
) -> None:
    headers = bearer(make_token(db, make_user(db, role=Role.trainer))[1])
    project = make_project(db)
    created = _start(client, headers, project.id, "dpo", {})
    assert created.status_code == 202, created.text
    params = created.json()["params"]
    assert params["beta"] == 0.1 and params["loss_type"] == "sigmoid"
    assert params["policy_version_id"] is None and params["include_flagged"] is False
    robust = _start(
        client, headers, project.id, "dpo", {"loss_type": "robust", "label_smoothing": 0.1}
    )
    assert robust.status_code == 202, robust.text
    iterate = _start(client, headers, project.id, "iterate", {"method": "dpo"})
    assert iterate.status_code == 202 and iterate.json()["params"]["method"] == "dpo"


def test_bad_dpo_params_are_refused_naming_the_field(client: TestClient, db: Session) -> None:
    headers = bearer(make_token(db, make_user(db, role=Role.trainer))[1])
    project = make_project(db)
    other = make_project(db)
    reward = ModelVersion(project_id=project.id, kind="reward", name="r", base_model="b", path="r")
    foreign = ModelVersion(project_id=other.id, kind="policy", name="p", base_model="b", path="p")
    db.add_all([reward, foreign])
    db.flush()

    for params, field, words in [
        ({"beta": 0}, "beta", "greater than 0"),
        ({"beta": -0.5}, "beta", "greater than 0"),
        ({"loss_type": "hinge"}, "loss_type", "sigmoid"),
        ({"loss_type": "ipo", "label_smoothing": 0.1}, "params", "not ipo"),
        ({"policy_version_id": reward.id}, "policy_version_id", "is a reward model"),
        ({"policy_version_id": 987654}, "policy_version_id", "no model version 987654"),
        ({"policy_version_id": foreign.id}, "policy_version_id", "another project"),
    ]:
        response = _start(client, headers, project.id, "dpo", params)
        assert response.status_code == 422, (params, response.text)
        problems = response.json()["detail"]
        assert any(field in map(str, p["loc"]) and words in p["msg"] for p in problems), (
            params,
            problems,
        )
    method = _start(client, headers, project.id, "iterate", {"method": "sft"})
    assert method.status_code == 422
    nested = _start(client, headers, project.id, "iterate", {"method": "dpo", "dpo": {"beta": 0}})
    assert nested.status_code == 422
