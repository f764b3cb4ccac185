"""Every route x every identity, with the status each must get.

The table is checked against `app.routes`: a route added without an entry here fails the
test, so nothing new ships without someone deciding who may call it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Job, ModelVersion, Role
from app.queries import jobs as job_queries
from app.queries import users as user_queries
from tests.auth_helpers import bearer, csrf_from, login
from tests.factories import (
    PASSWORD,
    make_comparison,
    make_label,
    make_project,
    make_token,
    make_user,
)

ANNOTATOR, TRAINER, ADMIN = "annotator", "trainer", "admin"
IDENTITIES = ("anonymous", ANNOTATOR, TRAINER, ADMIN, "deactivated", "revoked token")
PUBLIC = frozenset(IDENTITIES)
ADMINS = frozenset({ADMIN})
TRAINERS = frozenset({TRAINER, ADMIN})
RATERS = frozenset({ANNOTATOR, ADMIN})
SIGNED_IN = frozenset({ANNOTATOR, TRAINER, ADMIN})


@dataclass(frozen=True)
class Objects:
    project: int
    comparison: int
    job: int
    version: int
    user: int
    token: int
    username: str


Body = Callable[[Objects, int], dict[str, Any]]


def _nothing(_o: Objects, _n: int) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]
    # Keyword arguments of the request (json=, data=, content=, params=) for call number n.
    body: Body = _nothing


def _label(o: Objects, n: int) -> dict[str, Any]:
    return {
        "json": {"comparison_id": o.comparison, "idempotency_key": f"matrix-{n}", "choice": "same"}
    }


RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/openapi.json"): Rule(PUBLIC),
    ("GET", "/docs"): Rule(PUBLIC),
    ("GET", "/docs/oauth2-redirect"): Rule(PUBLIC),
    ("GET", "/healthz"): Rule(PUBLIC),
    ("GET", "/static"): Rule(PUBLIC),
    ("POST", "/api/v1/projects"): Rule(ADMINS, lambda o, n: {"json": {"name": f"matrix {n}"}}),
    ("GET", "/api/v1/projects"): Rule(ADMINS),
    ("GET", "/api/v1/projects/{project_id}"): Rule(ADMINS),
    ("PATCH", "/api/v1/projects/{project_id}"): Rule(
        ADMINS, lambda o, n: {"json": {"guidelines": f"Be kind {n}."}}
    ),
    ("GET", "/api/v1/me"): Rule(SIGNED_IN),
    ("GET", "/api/v1/users"): Rule(ADMINS),
    ("POST", "/api/v1/users"): Rule(
        ADMINS, lambda o, n: {"json": {"username": f"matrix{n}", "role": "annotator"}}
    ),
    ("PATCH", "/api/v1/users/{user_id}"): Rule(ADMINS, lambda o, n: {"json": {"role": "trainer"}}),
    ("GET", "/api/v1/users/{user_id}/tokens"): Rule(ADMINS),
    ("POST", "/api/v1/users/{user_id}/tokens"): Rule(ADMINS, lambda o, n: {"json": {"name": "m"}}),
    ("DELETE", "/api/v1/users/{user_id}/tokens/{token_id}"): Rule(ADMINS),
    ("POST", "/api/v1/projects/{project_id}/import"): Rule(
        ADMINS,
        lambda o, n: {
            "params": {"format": "pairs"},
            "content": f'{{"prompt": "p{n}", "response_a": "a", "response_b": "b"}}\n'.encode(),
        },
    ),
    ("GET", "/api/v1/projects/{project_id}/export"): Rule(ADMINS),
    ("GET", "/api/v1/projects/{project_id}/stats"): Rule(ADMINS),
    ("GET", "/api/v1/projects/{project_id}/next"): Rule(RATERS),
    ("POST", "/api/v1/labels"): Rule(RATERS, _label),
    ("POST", "/api/v1/projects/{project_id}/labels"): Rule(RATERS, _label),
    ("POST", "/api/v1/comparisons/{comparison_id}/skip"): Rule(RATERS),
    ("POST", "/api/v1/jobs"): Rule(
        TRAINERS, lambda o, n: {"json": {"project_id": o.project, "kind": "reward", "params": {}}}
    ),
    ("GET", "/api/v1/jobs"): Rule(TRAINERS),
    ("GET", "/api/v1/jobs/{job_id}"): Rule(TRAINERS),
    ("POST", "/api/v1/jobs/{job_id}/cancel"): Rule(TRAINERS),
    ("GET", "/api/v1/jobs/{job_id}/metrics"): Rule(TRAINERS),
    ("GET", "/api/v1/models"): Rule(TRAINERS),
    ("GET", "/api/v1/models/{version_id}"): Rule(TRAINERS),
    ("GET", "/"): Rule(PUBLIC),
    ("GET", "/login"): Rule(PUBLIC),
    ("POST", "/login"): Rule(
        PUBLIC, lambda o, n: {"data": {"username": o.username, "password": PASSWORD}}
    ),
    ("POST", "/logout"): Rule(PUBLIC),
    ("GET", "/rate"): Rule(RATERS),
    ("POST", "/rate"): Rule(
        RATERS,
        lambda o, n: {
            "data": {
                "comparison_id": str(o.comparison),
                "project_id": str(o.project),
                "idempotency_key": f"matrix-form-{n}",
                "action": "skip",
            }
        },
    ),
    ("GET", "/jobs"): Rule(TRAINERS),
    ("POST", "/jobs"): Rule(
        TRAINERS, lambda o, n: {"data": {"project_id": str(o.project), "kind": "reward"}}
    ),
    ("GET", "/jobs/{job_id}"): Rule(TRAINERS),
    ("POST", "/jobs/{job_id}/cancel"): Rule(TRAINERS),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    found = set()
    for route in iter_route_contexts(app.routes):
        methods = route.methods or {"GET"}  # a Mount (static files) answers GET
        for method in methods - {"HEAD"}:
            found.add((method, str(route.path)))
    return found


def is_api(path: str) -> bool:
    return path.startswith("/api/")


def _seed(db: Session) -> tuple[Objects, dict[str, str], dict[str, str]]:
    """The objects the paths name, a token per identity, and usernames to sign in as."""
    project = make_project(db, labels_per_comparison=3)
    comparison = make_comparison(db, project)
    make_label(db, comparison, annotator=make_user(db), feedback="someone else's note")
    victim = make_user(db)
    victim_token, _ = make_token(db, victim)
    job = job_queries.enqueue_job(
        db, project_id=project.id, kind="reward", params={}, max_attempts=3
    )
    version = ModelVersion(
        project_id=project.id, kind="reward", name="r1", base_model="tiny", path="reward/x"
    )
    db.add(version)
    db.flush()
    tokens: dict[str, str] = {}
    names: dict[str, str] = {}
    for role in (ANNOTATOR, TRAINER, ADMIN):
        user = make_user(db, role=Role(role))
        tokens[role] = make_token(db, user)[1]
        names[role] = user.username
    gone = make_user(db, role=Role.admin)
    tokens["deactivated"] = make_token(db, gone)[1]
    names["deactivated"] = gone.username
    revoked_owner = make_user(db, role=Role.admin)
    revoked, tokens["revoked token"] = make_token(db, revoked_owner)
    user_queries.revoke_token(db, revoked)
    db.commit()
    objects = Objects(
        project=project.id,
        comparison=comparison.id,
        job=job.id,
        version=version.id,
        user=victim.id,
        token=victim_token.id,
        username=victim.username,
    )
    return objects, tokens, names


def _url(path: str, o: Objects) -> str:
    if path == "/static":
        return "/static/style.css"
    return path.format(
        project_id=o.project,
        comparison_id=o.comparison,
        job_id=o.job,
        version_id=o.version,
        user_id=o.user,
        token_id=o.token,
    )


def test_every_route_has_a_rule(app: FastAPI) -> None:
    routes = app_routes(app)
    missing = sorted(routes - RULES.keys())
    stale = sorted(RULES.keys() - routes)
    assert not missing, f"routes without an access rule: {missing}"
    assert not stale, f"rules for routes that no longer exist: {stale}"


def test_access_matrix(app: FastAPI, db: Session) -> None:
    objects, tokens, names = _seed(db)
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
                    method, _url(path, objects), headers=headers, follow_redirects=False, **kwargs
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
