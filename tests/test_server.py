"""Health, security headers, JSON errors and the request size limit."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role
from tests.auth_helpers import bearer
from tests.factories import make_token, make_user


def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_pages_carry_security_headers(client: TestClient) -> None:
    response = client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_session_cookie_is_httponly_and_samesite(client: TestClient) -> None:
    response = client.get("/login")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "RLHF Studio"
    assert "/healthz" in schema["paths"]
    assert client.get("/docs").status_code == 200


def test_api_errors_are_json(client: TestClient) -> None:
    response = client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    assert client.get("/api/v1/me").json()["detail"] == "authentication required"


def test_body_over_the_limit_gets_413(client: TestClient, db: Session) -> None:
    user = make_user(db, role=Role.admin)
    _, plain = make_token(db, user)
    db.commit()
    big = b"x" * 2_000_000
    response = client.post(
        "/api/v1/projects",
        content=big,
        headers={**bearer(plain), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_chunked_body_over_the_limit_gets_413(client: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"y" * 100_000

    response = client.post(
        "/login", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
