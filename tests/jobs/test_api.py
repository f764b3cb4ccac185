"""The jobs and models REST API: roles, validation, and what a job looks like."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import ModelVersion, Role
from app.queries import jobs as job_queries
from tests.auth_helpers import bearer, login
from tests.factories import make_project, make_token, make_user


def _token(db: Session, role: Role) -> dict[str, str]:
    user = make_user(db, role=role)
    return bearer(make_token(db, user)[1])


def test_trainer_starts_a_job_and_reads_it(client: TestClient, db: Session) -> None:
    headers = _token(db, Role.trainer)
    project = make_project(db)
    created = client.post(
        "/api/v1/jobs",
        json={"project_id": project.id, "kind": "reward", "params": {"epochs": 2}},
        headers=headers,
    )
    assert created.status_code == 202, created.text
    job = created.json()
    assert job["status"] == "queued" and job["kind"] == "reward"
    assert job["progress"] == 0.0 and job["error"] is None and job["model_version_id"] is None
    assert job["params"]["epochs"] == 2 and job["params"]["batch_size"] == 16
    assert job["metrics"] == {}

    one = client.get(f"/api/v1/jobs/{job['id']}", headers=headers)
    assert one.status_code == 200 and one.json()["id"] == job["id"]
    listed = client.get(f"/api/v1/jobs?project_id={project.id}", headers=headers).json()
    assert [j["id"] for j in listed] == [job["id"]]
    assert (
        client.get(f"/api/v1/jobs?status=running&project_id={project.id}", headers=headers).json()
        == []
    )


def test_every_kind_is_accepted_with_default_params(client: TestClient, db: Session) -> None:
    headers = _token(db, Role.admin)
    project = make_project(db)
    for kind in ("reward", "ppo", "generate", "iterate"):
        response = client.post(
            "/api/v1/jobs", json={"project_id": project.id, "kind": kind}, headers=headers
        )
        assert response.status_code == 202, (kind, response.text)


def test_unknown_params_kinds_and_projects_are_refused(client: TestClient, db: Session) -> None:
    headers = _token(db, Role.trainer)
    project = make_project(db)
    typo = client.post(
        "/api/v1/jobs",
        json={"project_id": project.id, "kind": "reward", "params": {"epochz": 3}},
        headers=headers,
    )
    assert typo.status_code == 422
    assert any("epochz" in str(err["loc"]) for err in typo.json()["detail"])
    bad_value = client.post(
        "/api/v1/jobs",
        json={
            "project_id": project.id,
            "kind": "ppo",
            "params": {"batch_size": 5, "num_mini_batches": 2},
        },
        headers=headers,
    )
    assert bad_value.status_code == 422
    kind = client.post(
        "/api/v1/jobs", json={"project_id": project.id, "kind": "dance"}, headers=headers
    )
    assert kind.status_code == 422
    missing = client.post(
        "/api/v1/jobs", json={"project_id": 999_999, "kind": "reward"}, headers=headers
    )
    assert missing.status_code == 404


def test_annotators_and_strangers_are_kept_out(client: TestClient, db: Session) -> None:
    annotator = _token(db, Role.annotator)
    project = make_project(db)
    job = job_queries.enqueue_job(
        db, project_id=project.id, kind="reward", params={}, max_attempts=3
    )
    for method, url in [
        ("post", "/api/v1/jobs"),
        ("get", "/api/v1/jobs"),
        ("get", f"/api/v1/jobs/{job.id}"),
        ("post", f"/api/v1/jobs/{job.id}/cancel"),
        ("get", f"/api/v1/jobs/{job.id}/metrics"),
        ("get", "/api/v1/models"),
    ]:
        body = {"project_id": project.id, "kind": "reward"} if url == "/api/v1/jobs" else None
        assert client.request(method, url, json=body, headers=annotator).status_code == 403, url
        assert client.request(method, url, json=body).status_code == 401, url


def test_cancel(client: TestClient, db: Session) -> None:
    headers = _token(db, Role.trainer)
    project = make_project(db)
    queued = job_queries.enqueue_job(
        db, project_id=project.id, kind="reward", params={}, max_attempts=3
    )
    running = job_queries.enqueue_job(
        db, project_id=project.id, kind="reward", params={}, max_attempts=3
    )
    job_queries.claim_job(db, running.id, "w", 60)

    response = client.post(f"/api/v1/jobs/{queued.id}/cancel", headers=headers)
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/jobs/{queued.id}/cancel", headers=headers)
    assert again.status_code == 409
    asked = client.post(f"/api/v1/jobs/{running.id}/cancel", headers=headers).json()
    assert asked["status"] == "running" and asked["cancel_requested"] is True
    assert client.post("/api/v1/jobs/999999/cancel", headers=headers).status_code == 404


def test_browser_session_needs_csrf_to_start_a_job(client: TestClient, db: Session) -> None:
    user = make_user(db, role=Role.trainer)
    project = make_project(db)
    csrf = login(client, user.username)
    body = {"project_id": project.id, "kind": "generate"}
    assert client.post("/api/v1/jobs", json=body).status_code == 403
    ok = client.post("/api/v1/jobs", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 202


def test_metrics_series_and_samples(client: TestClient, db: Session) -> None:
    headers = _token(db, Role.trainer)
    project = make_project(db)
    job = job_queries.enqueue_job(db, project_id=project.id, kind="ppo", params={}, max_attempts=3)
    job_queries.claim_job(db, job.id, "w", 60)
    job_queries.record_progress(db, job.id, "w", 1, 0.5, {"score": 0.1, "kl": 0.0})
    job_queries.record_progress(db, job.id, "w", 2, 1.0, {"score": 0.4, "kl": 0.04})
    job_queries.record_samples(
        db, job.id, "w", 2, [{"prompt": "hi", "response": "hello", "score": 0.4}]
    )

    data = client.get(f"/api/v1/jobs/{job.id}/metrics", headers=headers).json()
    assert data["points"] == [
        {"step": 1, "values": {"score": 0.1, "kl": 0.0}},
        {"step": 2, "values": {"score": 0.4, "kl": 0.04}},
    ]
    assert data["samples"] == [
        {"step": 2, "prompt": "hi", "response": "hello", "score": 0.4, "extra": {}}
    ]
    newer = client.get(f"/api/v1/jobs/{job.id}/metrics?after_step=1", headers=headers).json()
    assert [p["step"] for p in newer["points"]] == [2]


def test_models_list_with_metrics(client: TestClient, db: Session) -> None:
    headers = _token(db, Role.trainer)
    project = make_project(db)
    other = make_project(db)
    job = job_queries.enqueue_job(
        db, project_id=project.id, kind="reward", params={}, max_attempts=3
    )
    version = ModelVersion(
        project_id=project.id,
        kind="reward",
        name="reward-v1",
        base_model="tiny",
        path="reward/job-1",
        job_id=job.id,
        metrics={"accuracy": 0.8},
        params={"epochs": 1},
    )
    db.add_all(
        [
            version,
            ModelVersion(project_id=other.id, kind="policy", name="p", base_model="b", path="p"),
        ]
    )
    db.flush()
    project.reward_version_id = version.id
    db.flush()

    listed = client.get(f"/api/v1/models?project_id={project.id}", headers=headers).json()
    assert len(listed) == 1
    assert listed[0]["metrics"] == {"accuracy": 0.8} and listed[0]["current"] is True
    assert listed[0]["job_id"] == job.id
    job_view = client.get(f"/api/v1/jobs/{job.id}", headers=headers).json()
    assert job_view["model_version_id"] == version.id
    assert client.get(f"/api/v1/models/{version.id}", headers=headers).json()["name"] == "reward-v1"


def test_named_model_versions_must_exist_and_fit(client: TestClient, db: Session) -> None:
    headers = _token(db, Role.trainer)
    project = make_project(db)
    policy = ModelVersion(project_id=project.id, kind="policy", name="p", base_model="b", path="p")
    db.add(policy)
    db.flush()

    def start(params: dict[str, object]) -> Any:
        return client.post(
            "/api/v1/jobs",
            json={"project_id": project.id, "kind": "ppo", "params": params},
            headers=headers,
        )

    missing = start({"reward_version_id": 987654})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["msg"] == "no model version 987654"
    wrong_kind = start({"reward_version_id": policy.id})
    assert wrong_kind.status_code == 422 and "not reward" in wrong_kind.text
    assert start({"policy_version_id": policy.id}).status_code == 202
