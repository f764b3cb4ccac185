"""Browser-side defences: CSRF on every form and cookie-authenticated API call, login
throttling, cookie flags, and the request size limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from app.models import Role
from tests.auth_helpers import csrf_from, login
from tests.factories import PASSWORD, make_comparison, make_project, make_user
from tests.reliability.access_rules import RULES, seed_objects, url_of

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def unsafe_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in iter_route_contexts(app.routes):
        for method in (route.methods or set()) & UNSAFE:
            found.append((method, str(route.path)))
    return sorted(found)


def test_every_form_and_cookie_api_call_needs_the_csrf_token(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    objects, _tokens, names = seed_objects(db)
    good = login(client, names["admin"])
    routes = unsafe_routes(app)
    assert len(routes) >= 15
    wrong = good[:-1] + ("A" if good[-1] != "A" else "B")
    for n, (method, path) in enumerate(routes):
        url = url_of(path, objects)
        for given in (None, "", "not-the-token", wrong):
            # A request that is valid in every other way: only the token is missing or wrong.
            kwargs = RULES[(method, path)].body(objects, n)
            if path.startswith("/api/"):
                headers = {} if given is None else {"X-CSRF-Token": given}
                answer = client.request(method, url, headers=headers, **kwargs)
            else:
                form = dict(kwargs.pop("data", {}))
                if given is not None:
                    form["csrf_token"] = given
                answer = client.request(method, url, data=form, follow_redirects=False, **kwargs)
            assert answer.status_code == 403, (method, path, given, answer.status_code)
            assert "CSRF" in answer.text, (method, path, answer.text[:200])
    # The right token passes the check (whatever the route then makes of the request).
    answer = client.post("/logout", data={"csrf_token": good}, follow_redirects=False)
    assert answer.status_code == 303
    print(f"\ncsrf: {len(routes)} unsafe routes x 4 missing or wrong tokens refused")


def test_login_is_throttled_after_repeated_failures(
    client: TestClient, db: Session, settings: Settings
) -> None:
    user = make_user(db, role=Role.annotator)
    db.commit()
    page = client.get("/login")
    token = csrf_from(page.text)
    for _ in range(settings.login_max_failures):
        answer = client.post(
            "/login",
            data={"username": user.username, "password": "wrong", "csrf_token": token},
            follow_redirects=False,
        )
        assert answer.status_code == 401
    # Locked: even the right password is refused now, with the same message as any failure.
    answer = client.post(
        "/login",
        data={"username": user.username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 401
    assert "locked" in answer.text


@pytest.fixture
def https_app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings.model_copy(update={"https": True, "max_import_bytes": 4096}))
    yield application
    application.state.engine.dispose()


def test_session_cookie_flags(client: TestClient, https_app: FastAPI) -> None:
    plain = client.get("/login").headers["set-cookie"].lower()
    assert "rlhf_session=" in plain and "httponly" in plain and "samesite=lax" in plain
    assert "secure" not in plain  # served over plain HTTP in development
    with TestClient(https_app, base_url="https://testserver") as secure_client:
        cookie = secure_client.get("/login").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie


def test_bodies_over_the_limit_get_413(
    client: TestClient, db: Session, settings: Settings, https_app: FastAPI
) -> None:
    comparison = make_comparison(db, make_project(db))
    db.commit()
    too_big = b"x" * (settings.max_body_bytes + 1)
    declared = client.post("/api/v1/labels", content=too_big)
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:
        # No Content-Length: the limit must hold on what actually arrives.
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"y" * 65536

    streamed = client.post(
        "/login",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    # A page gets a page that says why; API callers get JSON.
    assert streamed.headers["content-type"].startswith("text/html")
    assert "over the limit" in streamed.text
    form = client.post("/rate", data={"feedback": "z" * (settings.max_body_bytes + 10)})
    assert form.status_code == 413
    # Imports have their own, larger limit (set small here).
    with TestClient(https_app, base_url="https://testserver") as small:
        answer = small.post(
            f"/api/v1/projects/{comparison.project_id}/import", content=b"{}\n" * 2000
        )
    assert answer.status_code == 413
    assert "RLHF_MAX_IMPORT_BYTES" in answer.json()["detail"]
