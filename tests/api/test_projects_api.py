"""Projects through the REST API (admin only)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import ModelVersion, Role
from tests.auth_helpers import bearer
from tests.factories import make_project, make_token, make_user


def admin(db: Session) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, role=Role.admin))[1])


def test_create_list_read_update(client: TestClient, db: Session) -> None:
    headers = admin(db)
    db.commit()
    created = client.post(
        "/api/v1/projects",
        json={
            "name": "Helpfulness",
            "guidelines": "# Prefer *helpful*",
            "labels_per_comparison": 3,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["labels_per_comparison"] == 3 and project["guidelines"] == "# Prefer *helpful*"
    assert project["name"] in [
        p["name"] for p in client.get("/api/v1/projects", headers=headers).json()
    ]
    read = client.get(f"/api/v1/projects/{project['id']}", headers=headers).json()
    assert read == project
    patched = client.patch(
        f"/api/v1/projects/{project['id']}",
        json={"guidelines": "New", "training_settings": {"reward": {"epochs": 2}}},
        headers=headers,
    ).json()
    assert patched["guidelines"] == "New" and patched["name"] == "Helpfulness"
    assert patched["training_settings"] == {"reward": {"epochs": 2}}
    assert patched["labels_per_comparison"] == 3


def test_names_are_unique_and_fields_checked(client: TestClient, db: Session) -> None:
    headers = admin(db)
    other = make_project(db, name="taken")
    mine = make_project(db, name="mine")
    db.commit()
    assert (
        client.post("/api/v1/projects", json={"name": "taken"}, headers=headers).status_code == 409
    )
    rename = client.patch(f"/api/v1/projects/{mine.id}", json={"name": "taken"}, headers=headers)
    assert rename.status_code == 409
    assert other.name == "taken"
    for body in (
        {"name": ""},
        {"name": "x", "labels_per_comparison": 0},
        {"name": "x", "colour": 1},
    ):
        assert client.post("/api/v1/projects", json=body, headers=headers).status_code == 422
    assert client.get("/api/v1/projects/999999", headers=headers).status_code == 404


def test_default_model_versions_must_fit(client: TestClient, db: Session) -> None:
    headers = admin(db)
    project = make_project(db)
    reward = ModelVersion(
        project_id=project.id, kind="reward", name="rm", base_model="x", path="rm"
    )
    db.add(reward)
    db.commit()
    url = f"/api/v1/projects/{project.id}"
    wrong_kind = client.patch(url, json={"policy_version_id": reward.id}, headers=headers)
    assert wrong_kind.status_code == 422
    ok = client.patch(url, json={"reward_version_id": reward.id}, headers=headers)
    assert ok.json()["reward_version_id"] == reward.id
    cleared = client.patch(url, json={"reward_version_id": None}, headers=headers)
    assert cleared.json()["reward_version_id"] is None


def test_non_admins_are_refused(client: TestClient, db: Session) -> None:
    project = make_project(db)
    tokens = [make_token(db, make_user(db, role=r))[1] for r in (Role.annotator, Role.trainer)]
    db.commit()
    for token in tokens:
        headers = bearer(token)
        assert client.get("/api/v1/projects", headers=headers).status_code == 403
        assert (
            client.post("/api/v1/projects", json={"name": "n"}, headers=headers).status_code == 403
        )
        assert client.get(f"/api/v1/projects/{project.id}", headers=headers).status_code == 403
        patch = client.patch(f"/api/v1/projects/{project.id}", json={"name": "n"}, headers=headers)
        assert patch.status_code == 403
        assert (
            client.get(f"/api/v1/projects/{project.id}/stats", headers=headers).status_code == 403
        )
    assert client.get("/api/v1/projects").status_code == 401
