"""Login, CSRF, deactivation, tokens and roles, on the configured database."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import ApiToken, Role
from app.queries import users as user_queries
from app.security import hash_api_token
from tests.auth_helpers import bearer, csrf_from, login
from tests.factories import make_token, make_user


def test_login_with_right_password_reaches_home(client: TestClient, db: Session) -> None:
    make_user(db, username="alice", role=Role.annotator)
    db.commit()
    login(client, "alice")
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


def test_login_page_has_labelled_fields(client: TestClient) -> None:
    html = client.get("/login").text
    assert '<label for="username">Username</label>' in html
    assert '<label for="password">Password</label>' in html
    assert ">Sign in</button>" in html


def test_wrong_password_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, username="bob")
    db.commit()
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "bob", "password": "nope", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Wrong username or password" in response.text
    assert client.get("/api/v1/me").status_code == 401


def test_login_without_csrf_token_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, username="carol")
    db.commit()
    client.get("/login")
    response = client.post("/login", data={"username": "carol", "password": "x" * 10})
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_login_with_forged_csrf_token_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, username="carla")
    db.commit()
    client.get("/login")
    response = client.post(
        "/login", data={"username": "carla", "password": "x" * 10, "csrf_token": "forged"}
    )
    assert response.status_code == 403


def test_deactivated_user_cannot_log_in(client: TestClient, db: Session) -> None:
    make_user(db, username="dave", is_active=False)
    db.commit()
    token = csrf_from(client.get("/login").text)
    from tests.factories import PASSWORD

    response = client.post(
        "/login", data={"username": "dave", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 401


def test_deactivation_ends_an_open_session_and_tokens(client: TestClient, db: Session) -> None:
    user = make_user(db, username="erin")
    _, plain = make_token(db, user)
    db.commit()
    login(client, "erin")
    assert client.get("/api/v1/me").status_code == 200
    user.is_active = False
    db.commit()
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 401


def test_revoked_token_is_refused(client: TestClient, db: Session) -> None:
    user = make_user(db, role=Role.admin)
    token, plain = make_token(db, user)
    db.commit()
    assert client.get("/api/v1/users", headers=bearer(plain)).status_code == 200
    user_queries.revoke_token(db, token)
    db.commit()
    response = client.get("/api/v1/users", headers=bearer(plain))
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_unknown_token_is_refused(client: TestClient) -> None:
    assert client.get("/api/v1/me", headers=bearer("rlhf_made_up")).status_code == 401


def test_only_the_token_hash_is_stored_and_use_is_recorded(client: TestClient, db: Session) -> None:
    user = make_user(db)
    token, plain = make_token(db, user)
    db.commit()
    assert token.token_hash == hash_api_token(plain)
    assert plain not in token.token_hash
    assert token.last_used_at is None
    client.get("/api/v1/me", headers=bearer(plain))
    db.expire_all()
    assert db.get(ApiToken, token.id).last_used_at is not None  # type: ignore[union-attr]


def test_annotator_token_cannot_reach_admin_endpoints(client: TestClient, db: Session) -> None:
    annotator = make_user(db, role=Role.annotator)
    _, plain = make_token(db, annotator)
    db.commit()
    response = client.get("/api/v1/users", headers=bearer(plain))
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]


def test_cookie_session_needs_csrf_header_for_unsafe_api_calls(
    client: TestClient, db: Session
) -> None:
    make_user(db, username="frank", role=Role.admin)
    db.commit()
    csrf = login(client, "frank")
    assert client.post("/api/v1/me").status_code in (403, 405)
    response = client.post("/api/v1/projects", json={"name": "p"})
    assert response.status_code in (403, 404, 405)
    assert client.get("/api/v1/users").status_code == 200
    assert csrf


def test_lockout_after_repeated_failures(client: TestClient, db: Session) -> None:
    from tests.factories import PASSWORD

    make_user(db, username="gina")
    db.commit()
    token = csrf_from(client.get("/login").text)
    for _ in range(5):
        client.post("/login", data={"username": "gina", "password": "bad", "csrf_token": token})
    # Locked: even the right password is refused for a while.
    response = client.post(
        "/login", data={"username": "gina", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 401


def test_logout_needs_csrf_and_ends_session(client: TestClient, db: Session) -> None:
    make_user(db, username="hank")
    db.commit()
    csrf = login(client, "hank")
    assert client.post("/logout", data={}).status_code == 403
    assert client.get("/api/v1/me").status_code == 200
    assert (
        client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    )
    assert client.get("/api/v1/me").status_code == 401


def test_open_redirect_after_login_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, username="ivan")
    db.commit()
    token = csrf_from(client.get("/login").text)
    from tests.factories import PASSWORD

    response = client.post(
        "/login",
        data={
            "username": "ivan",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/rate"


def test_anonymous_page_visit_redirects_to_login(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
