"""People and tokens through the REST API (admin only)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role
from tests.auth_helpers import bearer, login
from tests.factories import make_token, make_user


def test_create_person_who_can_then_sign_in(client: TestClient, db: Session) -> None:
    _, token = make_token(db, make_user(db, role=Role.admin))
    db.commit()
    created = client.post(
        "/api/v1/users",
        json={"username": "dana", "role": "annotator", "password": "long enough pw"},
        headers=bearer(token),
    )
    assert created.status_code == 201
    assert created.json() == {
        "id": created.json()["id"],
        "username": "dana",
        "role": "annotator",
        "is_active": True,
    }
    taken = client.post(
        "/api/v1/users", json={"username": "dana", "role": "admin"}, headers=bearer(token)
    )
    assert taken.status_code == 409
    short = client.post(
        "/api/v1/users",
        json={"username": "eve", "role": "annotator", "password": "short"},
        headers=bearer(token),
    )
    assert short.status_code == 422
    client.headers.pop("Authorization", None)
    login(client, "dana", "long enough pw")
    assert client.get("/api/v1/me").json()["username"] == "dana"


def test_role_change_and_deactivation_take_effect_at_once(client: TestClient, db: Session) -> None:
    _, admin_token = make_token(db, make_user(db, role=Role.admin))
    person = make_user(db, role=Role.annotator)
    _, person_token = make_token(db, person)
    db.commit()
    url = f"/api/v1/users/{person.id}"
    assert client.get("/api/v1/users", headers=bearer(person_token)).status_code == 403
    promoted = client.patch(url, json={"role": "trainer"}, headers=bearer(admin_token))
    assert promoted.json()["role"] == "trainer"
    assert client.get("/api/v1/me", headers=bearer(person_token)).json()["role"] == "trainer"
    off = client.patch(url, json={"is_active": False}, headers=bearer(admin_token))
    assert off.json()["is_active"] is False
    assert client.get("/api/v1/me", headers=bearer(person_token)).status_code == 401
    assert (
        client.patch(url, json={"role": "wizard"}, headers=bearer(admin_token)).status_code == 422
    )
    assert (
        client.patch("/api/v1/users/999999", json={}, headers=bearer(admin_token)).status_code
        == 404
    )


def test_the_last_admin_cannot_be_removed(client: TestClient, db: Session) -> None:
    from sqlalchemy import update

    from app.models import User

    # Other tests' admins live in this transaction too; leave exactly one active.
    db.execute(update(User).where(User.role == "admin").values(is_active=False))
    only = make_user(db, role=Role.admin)
    _, token = make_token(db, only)
    db.commit()
    url = f"/api/v1/users/{only.id}"
    assert client.patch(url, json={"is_active": False}, headers=bearer(token)).status_code == 409
    assert client.patch(url, json={"role": "annotator"}, headers=bearer(token)).status_code == 409
    second = make_user(db, role=Role.admin)
    db.commit()
    demoted = client.patch(
        f"/api/v1/users/{second.id}", json={"role": "trainer"}, headers=bearer(token)
    )
    assert demoted.status_code == 200


def test_tokens_minted_listed_and_revoked(client: TestClient, db: Session) -> None:
    _, admin_token = make_token(db, make_user(db, role=Role.admin))
    person = make_user(db, role=Role.trainer)
    db.commit()
    url = f"/api/v1/users/{person.id}/tokens"
    minted = client.post(url, json={"name": "ci"}, headers=bearer(admin_token))
    assert minted.status_code == 201
    body = minted.json()
    plain = body["token"]
    assert plain.startswith(body["prefix"]) and len(body["prefix"]) < len(plain)
    assert client.get("/api/v1/me", headers=bearer(plain)).json()["id"] == person.id
    listed = client.get(url, headers=bearer(admin_token)).json()
    assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0]
    revoked = client.delete(f"{url}/{body['id']}", headers=bearer(admin_token))
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 401
    # A token id under the wrong person is not found, not revoked.
    assert (
        client.delete(
            f"/api/v1/users/999999/tokens/{body['id']}", headers=bearer(admin_token)
        ).status_code
        == 404
    )


def test_non_admins_cannot_manage_people(client: TestClient, db: Session) -> None:
    person = make_user(db, role=Role.annotator)
    tokens = [make_token(db, make_user(db, role=r))[1] for r in (Role.annotator, Role.trainer)]
    db.commit()
    for token in tokens:
        headers = bearer(token)
        assert (
            client.post(
                "/api/v1/users", json={"username": "x", "role": "admin"}, headers=headers
            ).status_code
            == 403
        )
        assert (
            client.patch(
                f"/api/v1/users/{person.id}", json={"role": "admin"}, headers=headers
            ).status_code
            == 403
        )
        assert (
            client.post(f"/api/v1/users/{person.id}/tokens", json={}, headers=headers).status_code
            == 403
        )
        assert client.get(f"/api/v1/users/{person.id}/tokens", headers=headers).status_code == 403
