"""Every route x every identity, with the status each must get (the table:
tests/reliability/access_rules.py)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Job
from app.queries import jobs as job_queries
from app.queries import users as user_queries
from tests.auth_helpers import bearer, csrf_from, login
from tests.factories import (
    make_comparison,
    make_label,
    make_project,
    make_token,
    make_user,
)
from tests.reliability.access_rules import (
    ADMIN,
    ANNOTATOR,
    IDENTITIES,
    RULES,
    SIGNED_IN,
    TRAINER,
    Rule,
    app_routes,
    is_api,
    seed_objects,
    url_of,
)


def test_every_route_has_a_rule(app: FastAPI) -> None:
    routes = app_routes(app)
    missing = sorted(routes - RULES.keys())
    stale = sorted(RULES.keys() - routes)
    assert not missing, f"routes without an access rule: {missing}"
    assert not stale, f"rules for routes that no longer exist: {stale}"


def test_access_matrix(app: FastAPI, db: Session) -> None:
    objects, tokens, names = seed_objects(db)
    # Page identities are browser sessions: sign each in once and replay its cookie.
    cookies: dict[str, dict[str, str]] = {}
    csrf: dict[str, str] = {}
    with TestClient(app, raise_server_exceptions=False) as browser:
        for identity in (ANNOTATOR, TRAINER, ADMIN, "deactivated"):
            browser.cookies.clear()
            csrf[identity] = login(browser, names[identity])
            cookies[identity] = dict(browser.cookies)
        browser.cookies.clear()
        csrf["anonymous"] = csrf_from(browser.get("/login").text)
        cookies["anonymous"] = dict(browser.cookies)
        cookies["revoked token"] = cookies["anonymous"]
        csrf["revoked token"] = csrf["anonymous"]
    user_queries.get_user_by_username(db, names["deactivated"]).is_active = False  # type: ignore[union-attr]
    db.commit()

    wrong: list[str] = []
    counter = itertools.count()
    checked = 0
    with TestClient(app, raise_server_exceptions=False) as client:
        for (method, path), rule in sorted(RULES.items()):
            for identity in IDENTITIES:
                n = next(counter)
                kwargs = rule.body(objects, n)
                headers: dict[str, str] = {}
                client.cookies.clear()
                if is_api(path):
                    if identity != "anonymous":
                        headers = bearer(tokens[identity])
                else:
                    for name, value in cookies[identity].items():
                        client.cookies.set(name, value)
                    if identity == "revoked token":
                        headers = bearer(tokens[identity])
                    if method != "GET":
                        kwargs.setdefault("data", {})["csrf_token"] = csrf[identity]
                response = client.request(
                    method, url_of(path, objects), headers=headers, follow_redirects=False, **kwargs
                )
                checked += 1
                problem = _judge(method, path, rule, identity, response.status_code, response)
                if problem:
                    wrong.append(f"{method} {path} as {identity}: {problem}")
    routes = len(RULES)
    print(f"\naccess matrix: {routes} routes x {len(IDENTITIES)} identities = {checked} requests")
    assert checked == routes * len(IDENTITIES)
    assert not wrong, "\n".join(wrong)


def _judge(
    method: str, path: str, rule: Rule, identity: str, status: int, response: Any
) -> str | None:
    if status >= 500:
        return f"server error {status}: {response.text[:200]}"
    if identity in rule.allowed:
        if status in (401, 403):
            return f"refused with {status}: {response.text[:200]}"
        sent_to_login = status == 303 and "/login" in response.headers["location"]
        # Signing out and the bare home page send everyone to the login page.
        if sent_to_login and (method, path) not in {("POST", "/logout"), ("GET", "/")}:
            return "sent to the login page"
        return None
    signed_in = identity in SIGNED_IN
    if is_api(path):
        expected = 403 if signed_in else 401
        return None if status == expected else f"expected {expected}, got {status}"
    if signed_in:
        return None if status == 403 else f"expected 403, got {status}"
    if status == 303 and response.headers["location"].startswith("/login"):
        return None
    return f"expected a redirect to /login, got {status}"


@pytest.mark.parametrize("via", ["api", "page"])
def test_annotators_never_see_each_others_labels(
    app: FastAPI, client: TestClient, db: Session, via: str
) -> None:
    project = make_project(db, labels_per_comparison=2, guidelines="Rate.")
    comparison = make_comparison(db, project)
    first, second = make_user(db), make_user(db)
    make_label(db, comparison, annotator=first, feedback="SECRET-FEEDBACK-OF-THE-FIRST")
    _, token = make_token(db, second)
    db.commit()
    if via == "api":
        answer = client.get(f"/api/v1/projects/{project.id}/next", headers=bearer(token))
        assert answer.status_code == 200 and answer.json()["comparison_id"] == comparison.id
    else:
        login(client, second.username)
        answer = client.get(f"/rate?project={project.id}")
        assert answer.status_code == 200 and f'value="{comparison.id}"' in answer.text
    assert "SECRET-FEEDBACK-OF-THE-FIRST" not in answer.text
    for path in (f"/api/v1/projects/{project.id}/export", f"/api/v1/projects/{project.id}/stats"):
        assert client.get(path, headers=bearer(token)).status_code == 403


def test_jobs_left_untouched_by_refused_callers(app: FastAPI, db: Session) -> None:
    """A refused cancel must not have cancelled anything on the way to its 403."""
    project = make_project(db)
    job = job_queries.enqueue_job(
        db, project_id=project.id, kind="reward", params={}, max_attempts=3
    )
    annotator = make_user(db)
    _, token = make_token(db, annotator)
    db.commit()
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post(f"/api/v1/jobs/{job.id}/cancel", headers=bearer(token))
    assert answer.status_code == 403
    db.expire_all()
    assert db.get_one(Job, job.id).status == "queued"
