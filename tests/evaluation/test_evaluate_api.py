"""POST /api/v1/jobs with kind evaluate: good parameters queue, bad ones are a 422 naming them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.models import Role
from app.schemas.jobs import EvaluateParams
from tests.auth_helpers import bearer
from tests.evaluation.seed import make_version
from tests.factories import make_project, make_token, make_user
from trainer.generation import GenerationConfig


def _post(client: TestClient, db: Session, project_id: int, params: dict[str, Any]) -> Any:
    headers = bearer(make_token(db, make_user(db, role=Role.trainer))[1])
    return client.post(
        "/api/v1/jobs",
        json={"project_id": project_id, "kind": "evaluate", "params": params},
        headers=headers,
    )


def test_an_evaluate_job_is_queued_with_its_versions(client: TestClient, db: Session) -> None:
    project = make_project(db)
    base, tuned = (make_version(db, project, name=n) for n in ("base", "tuned"))
    response = _post(client, db, project.id, {"policy_version_ids": [base.id, tuned.id]})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["kind"] == "evaluate" and job["params"]["policy_version_ids"] == [base.id, tuned.id]
    assert job["params"]["priority"] == 10 and job["params"]["prompts"] is None


@pytest.mark.parametrize("case", ["one", "unknown", "other project", "reward", "twice"])
def test_bad_versions_are_refused_naming_them(client: TestClient, db: Session, case: str) -> None:
    project = make_project(db)
    base = make_version(db, project, name="base")
    elsewhere = make_version(db, make_project(db), name="elsewhere")
    reward = make_version(db, project, name="reward", kind="reward")
    ids, expected = {
        "one": ([base.id], "at least 2"),
        "unknown": ([base.id, 987654], "no model version 987654"),
        "other project": ([base.id, elsewhere.id], f"{elsewhere.id} belongs to another project"),
        "reward": ([reward.id, base.id], f"{reward.id} is a reward model, not policy"),
        "twice": ([base.id, base.id], f"lists version {base.id} twice"),
    }[case]
    response = _post(client, db, project.id, {"policy_version_ids": ids})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any("policy_version_ids" in map(str, d["loc"]) for d in detail), detail
    assert expected in str(detail)


@pytest.mark.nodb
def test_generation_settings_mirror_the_generation_config() -> None:
    params = EvaluateParams(policy_version_ids=[1, 2])
    config = GenerationConfig(**params.config_fields())
    defaults = GenerationConfig()
    for name, value in params.config_fields().items():
        assert getattr(defaults, name) == value == getattr(config, name)
    with pytest.raises(ValidationError, match="policy_version_id\n  Extra inputs"):
        EvaluateParams.model_validate({"policy_version_ids": [1, 2], "policy_version_id": 3})
