"""Who may call each route: the table the access tests check every route against (a route
added without an entry here fails tests/reliability/test_access_matrix.py, so nothing new
ships without someone deciding who may call it), and the objects its paths name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy.orm import Session

from app.models import ModelVersion, Role
from app.queries import jobs as job_queries
from app.queries import users as user_queries
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
    ("GET", "/redoc"): Rule(PUBLIC),
    ("GET", "/docs-assets"): Rule(PUBLIC),
    ("GET", "/docs-redoc.js"): Rule(PUBLIC),
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
    ("GET", "/api/v1/projects/{project_id}/annotators"): Rule(ADMINS),
    ("POST", "/api/v1/projects/{project_id}/annotators/recompute"): Rule(ADMINS),
    ("POST", "/api/v1/projects/{project_id}/annotators/{user_id}/suspend"): Rule(
        ADMINS, lambda o, n: {"json": {"reason": f"matrix {n}"}}
    ),
    ("POST", "/api/v1/projects/{project_id}/annotators/{user_id}/reinstate"): Rule(
        ADMINS, lambda o, n: {"json": {"reason": f"matrix {n}"}}
    ),
    ("GET", "/api/v1/projects/{project_id}/annotators/{user_id}/history"): Rule(ADMINS),
    ("PATCH", "/api/v1/comparisons/{comparison_id}"): Rule(
        ADMINS, lambda o, n: {"json": {"gold": None}}
    ),
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
    ("GET", "/api/v1/projects/{project_id}/leaderboard"): Rule(TRAINERS),
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
    ("GET", "/projects"): Rule(ADMINS),
    ("GET", "/projects/new"): Rule(ADMINS),
    ("POST", "/projects"): Rule(ADMINS, lambda o, n: {"data": {"name": f"matrix page {n}"}}),
    ("GET", "/projects/{project_id}"): Rule(ADMINS),
    ("GET", "/projects/{project_id}/edit"): Rule(ADMINS),
    ("POST", "/projects/{project_id}/edit"): Rule(
        ADMINS,
        lambda o, n: {"data": {"name": f"matrix edited {n}", "labels_per_comparison": "3"}},
    ),
    ("POST", "/projects/{project_id}/import"): Rule(
        ADMINS,
        lambda o, n: {
            "data": {"format": "pairs"},
            "files": {
                "file": ("m.jsonl", f'{{"prompt": "w{n}", "response_a": "a", "response_b": "b"}}\n')
            },
        },
    ),
    ("GET", "/projects/{project_id}/export"): Rule(ADMINS),
    ("GET", "/projects/{project_id}/quality"): Rule(ADMINS),
    ("POST", "/projects/{project_id}/quality/annotators/{user_id}/suspend"): Rule(
        ADMINS, lambda o, n: {"data": {"reason": "matrix"}}
    ),
    ("POST", "/projects/{project_id}/quality/annotators/{user_id}/reinstate"): Rule(
        ADMINS, lambda o, n: {"data": {"reason": "matrix"}}
    ),
    ("GET", "/people"): Rule(ADMINS),
    ("POST", "/people"): Rule(
        ADMINS, lambda o, n: {"data": {"username": f"matrixpage{n}", "role": "annotator"}}
    ),
    ("POST", "/people/{user_id}"): Rule(ADMINS, lambda o, n: {"data": {"role": "annotator"}}),
    ("POST", "/people/{user_id}/tokens"): Rule(ADMINS, lambda o, n: {"data": {"name": "m"}}),
    ("POST", "/people/{user_id}/tokens/{token_id}/revoke"): Rule(ADMINS),
    ("GET", "/models"): Rule(TRAINERS),
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


def seed_objects(db: Session) -> tuple[Objects, dict[str, str], dict[str, str]]:
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


def url_of(path: str, o: Objects) -> str:
    if path == "/static":
        return "/static/style.css"
    if path == "/docs-assets":
        return "/docs-assets/swagger-ui.css"
    return path.format(
        project_id=o.project,
        comparison_id=o.comparison,
        job_id=o.job,
        version_id=o.version,
        user_id=o.user,
        token_id=o.token,
    )
