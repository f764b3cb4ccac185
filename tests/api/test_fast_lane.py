"""The annotator fast lane (PostgreSQL, Bearer token, committed data): the common answers come
from it, every other answer is the full application's, and nothing it writes differs."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app import rating
from app.api import fast_lane
from app.config import Settings
from app.db import session_scope
from app.main import create_app
from app.models import ApiToken, Assignment, Comparison, Label, Role, User, utcnow
from harness.databases import fresh_database, migrated_engine
from tests.auth_helpers import bearer, login
from tests.factories import make_comparison, make_project, make_token, make_user

pytestmark = pytest.mark.postgres_only  # the lane serves PostgreSQL only

SECRET = "test-secret-key-that-is-long-enough-0123456789"


@dataclass
class Lane:
    client: TestClient
    engine: Engine
    calls: dict[str, int]


@pytest.fixture(scope="module")
def lane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    data_dir = tmp_path_factory.mktemp("lane")
    with fresh_database(data_dir) as url:
        migrated_engine(url, data_dir).dispose()
        app = create_app(Settings(database_url=url, data_dir=data_dir, secret_key=SECRET))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Lane(client=client, engine=app.state.engine, calls={})
        app.state.engine.dispose()


@pytest.fixture(autouse=True)
def count_lane_answers(lane: Lane, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts the statements the lane ran, to tell its answers from the full path's."""
    lane.calls.clear()
    take, record = fast_lane.take_next_for_token, fast_lane.label_queries.record_label_for_token

    async def counted_take(*args: Any) -> Any:
        lane.calls["next"] = lane.calls.get("next", 0) + 1
        return await take(*args)

    async def counted_record(*args: Any) -> Any:
        lane.calls["label"] = lane.calls.get("label", 0) + 1
        return await record(*args)

    monkeypatch.setattr(fast_lane, "take_next_for_token", counted_take)
    monkeypatch.setattr(fast_lane.label_queries, "record_label_for_token", counted_record)


@dataclass
class Setup:
    project_id: int
    comparison_ids: list[int]
    user_id: int
    headers: dict[str, str]


def _setup(lane: Lane, *, pairs: int = 2, role: Role = Role.annotator, per_pair: int = 1) -> Setup:
    with session_scope(lane.engine) as session:
        project = make_project(session, labels_per_comparison=per_pair)
        ids = [make_comparison(session, project, priority=-n).id for n in range(pairs)]
        user = make_user(session, role=role)
        _, plain = make_token(session, user)
        return Setup(project.id, ids, user.id, bearer(plain))


def _body(comparison_id: int, key: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "comparison_id": comparison_id,
        "idempotency_key": key or uuid.uuid4().hex,
        "choice": "better",
        **fields,
    }


def test_next_then_label_come_from_the_lane_and_store_what_the_full_path_would(
    lane: Lane,
) -> None:
    s = _setup(lane)
    shown = lane.client.get(f"/api/v1/projects/{s.project_id}/next", headers=s.headers)
    assert shown.status_code == 200, shown.text
    pair = shown.json()
    assert pair["comparison_id"] == s.comparison_ids[0]
    assert pair["prompt"][0]["role"] == "user"
    assert pair["shown_swapped"] == rating.shown_swapped(SECRET, s.user_id, s.comparison_ids[0])
    assert shown.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in shown.headers["content-security-policy"]

    body = _body(pair["comparison_id"], pair["idempotency_key"], feedback="ok", strength="much")
    created = lane.client.post("/api/v1/labels", json=body, headers=s.headers)
    assert created.status_code == 201, created.text
    assert lane.calls == {"next": 1, "label": 1}
    stored = created.json()
    assert stored["annotator_id"] == s.user_id
    assert stored["shown_swapped"] == pair["shown_swapped"]
    assert (stored["feedback"], stored["strength"]) == ("ok", "much")

    retried = lane.client.post("/api/v1/labels", json=body, headers=s.headers)
    assert retried.status_code == 200
    assert retried.json() == stored
    with Session(lane.engine) as session:
        labels = session.scalars(select(Label).where(Label.comparison_id == s.comparison_ids[0]))
        assert [label.id for label in labels] == [stored["id"]]
        assert session.get(Comparison, s.comparison_ids[0]).label_count == 1  # type: ignore[union-attr]
        done = session.get(Assignment, (s.comparison_ids[0], s.user_id))
        assert done is not None and done.status == "done"
        token = session.scalar(select(ApiToken).where(ApiToken.user_id == s.user_id))
        assert token is not None and token.last_used_at is not None

    following = lane.client.get(f"/api/v1/projects/{s.project_id}/next", headers=s.headers)
    assert following.json()["comparison_id"] == s.comparison_ids[1]


def test_held_lease_is_returned_again(lane: Lane) -> None:
    s = _setup(lane, pairs=3)
    url = f"/api/v1/projects/{s.project_id}/next"
    first = lane.client.get(url, headers=s.headers).json()
    again = lane.client.get(url, headers=s.headers).json()
    assert again["comparison_id"] == first["comparison_id"]
    assert lane.calls["next"] == 2


def test_last_slot_goes_to_one_annotator_and_the_other_gets_204(lane: Lane) -> None:
    s = _setup(lane, pairs=1)
    other = _setup(lane, pairs=0)
    url = f"/api/v1/projects/{s.project_id}/next"
    assert lane.client.get(url, headers=s.headers).status_code == 200
    assert lane.client.get(url, headers=other.headers).status_code == 204


def test_expired_lease_frees_the_slot(lane: Lane) -> None:
    s = _setup(lane, pairs=1)
    other = _setup(lane, pairs=0)
    with session_scope(lane.engine) as session:
        session.add(
            Assignment(
                comparison_id=s.comparison_ids[0],
                user_id=other.user_id,
                status="leased",
                expires_at=utcnow() - timedelta(seconds=1),
            )
        )
    got = lane.client.get(f"/api/v1/projects/{s.project_id}/next", headers=s.headers)
    assert got.json()["comparison_id"] == s.comparison_ids[0]


def test_refusals_are_the_full_paths(lane: Lane) -> None:
    s = _setup(lane)
    trainer = _setup(lane, pairs=0, role=Role.trainer)
    url = f"/api/v1/projects/{s.project_id}/next"
    assert lane.client.get(url, headers=trainer.headers).status_code == 403
    assert lane.client.get(url, headers=bearer("rlhf_" + "x" * 43)).status_code == 401
    assert lane.client.get("/api/v1/projects/424242/next", headers=s.headers).status_code == 404
    assert lane.client.get("/api/v1/projects/99999999999/next", headers=s.headers).status_code in (
        404,
        422,
    )

    pair = lane.client.get(url, headers=s.headers).json()
    bad = lane.client.post(
        "/api/v1/labels",
        json=_body(pair["comparison_id"], choice="same", strength="much"),
        headers=s.headers,
    )
    assert bad.status_code == 422 and isinstance(bad.json()["detail"], list)
    unknown = lane.client.post("/api/v1/labels", json=_body(999_999), headers=s.headers)
    assert unknown.status_code == 404
    too_big = lane.client.post(
        "/api/v1/labels",
        content=b'{"x": "' + b"a" * 2_000_000 + b'"}',
        headers={**s.headers, "Content-Type": "application/json"},
    )
    assert too_big.status_code == 413

    key = uuid.uuid4().hex
    assert (
        lane.client.post(
            "/api/v1/labels", json=_body(pair["comparison_id"], key), headers=s.headers
        ).status_code
        == 201
    )
    again = lane.client.post("/api/v1/labels", json=_body(pair["comparison_id"]), headers=s.headers)
    assert again.status_code == 409
    thief = _setup(lane, pairs=0)
    taken = lane.client.get(url, headers=thief.headers).json()
    assert taken["comparison_id"] == s.comparison_ids[1]
    stolen = lane.client.post(
        "/api/v1/labels", json=_body(s.comparison_ids[1], key), headers=thief.headers
    )
    assert stolen.status_code == 409
    assert lane.calls["label"] == 4  # unknown pair, created, again, stolen


def test_revoked_token_and_deactivated_user_are_refused_at_once(lane: Lane) -> None:
    s = _setup(lane)
    pair = lane.client.get(f"/api/v1/projects/{s.project_id}/next", headers=s.headers).json()
    with session_scope(lane.engine) as session:
        token = session.scalar(select(ApiToken).where(ApiToken.user_id == s.user_id))
        assert token is not None
        token.revoked_at = utcnow()
    refused = lane.client.post(
        "/api/v1/labels", json=_body(pair["comparison_id"]), headers=s.headers
    )
    assert refused.status_code == 401

    d = _setup(lane)
    pair = lane.client.get(f"/api/v1/projects/{d.project_id}/next", headers=d.headers).json()
    with session_scope(lane.engine) as session:
        user = session.get(User, d.user_id)
        assert user is not None
        user.is_active = False
    url = f"/api/v1/projects/{d.project_id}/next"
    assert lane.client.get(url, headers=d.headers).status_code == 401
    refused = lane.client.post(
        "/api/v1/labels", json=_body(pair["comparison_id"]), headers=d.headers
    )
    assert refused.status_code == 401
    with Session(lane.engine) as session:
        assert session.scalar(select(func.count()).select_from(Label)) is not None
        mine = (
            select(func.count())
            .select_from(Label)
            .where(Label.annotator_id.in_([s.user_id, d.user_id]))
        )
        assert session.scalar(mine) == 0


def test_browser_session_takes_the_full_path_with_its_csrf_check(lane: Lane) -> None:
    s = _setup(lane)
    with session_scope(lane.engine) as session:
        make_user(session, username=f"browser{uuid.uuid4().hex[:6]}")
        username = session.scalars(select(User.username).order_by(User.id.desc())).first()
    assert username is not None
    with TestClient(lane.client.app, raise_server_exceptions=False) as browser:
        csrf = login(browser, username)
        url = f"/api/v1/projects/{s.project_id}/next"
        pair = browser.get(url).json()
        body = _body(pair["comparison_id"])
        assert browser.post("/api/v1/labels", json=body).status_code == 403
        ok = browser.post("/api/v1/labels", json=body, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 201
    assert lane.calls == {}


def test_sqlite_and_overridden_sessions_never_take_the_lane(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", data_dir=tmp_path))
    lane_app = fast_lane.AnnotatorFastLane(app, owner=app)
    scope = {"type": "http", "method": "POST", "path": "/api/v1/labels", "headers": []}
    assert not lane_app._applies(scope)


def test_label_and_next_comes_from_the_lane(lane: Lane) -> None:
    s = _setup(lane, pairs=2)
    pair = lane.client.get(f"/api/v1/projects/{s.project_id}/next", headers=s.headers).json()
    url = f"/api/v1/projects/{s.project_id}/labels"
    body = _body(pair["comparison_id"], pair["idempotency_key"])
    answer = lane.client.post(url, json=body, headers=s.headers)
    assert answer.status_code == 201, answer.text
    got = answer.json()
    assert got["label"]["comparison_id"] == s.comparison_ids[0]
    assert got["next"]["comparison_id"] == s.comparison_ids[1]
    assert got["next"]["shown_swapped"] == rating.shown_swapped(
        SECRET, s.user_id, s.comparison_ids[1]
    )
    assert lane.calls == {"next": 2, "label": 1}

    retried = lane.client.post(url, json=body, headers=s.headers)
    assert retried.status_code == 200
    assert retried.json()["label"] == got["label"]
    last = lane.client.post(url, json=_body(s.comparison_ids[1]), headers=s.headers)
    assert last.status_code == 201 and last.json()["next"] is None

    o = _setup(lane, pairs=1)
    pair = lane.client.get(f"/api/v1/projects/{o.project_id}/next", headers=o.headers).json()
    nowhere = lane.client.post(
        "/api/v1/projects/424242/labels", json=_body(pair["comparison_id"]), headers=o.headers
    )
    assert nowhere.status_code == 404
    assert lane.calls["label"] == 4
    with Session(lane.engine) as session:
        labels = select(func.count()).select_from(Label)
        assert session.scalar(labels.where(Label.annotator_id == s.user_id)) == 2
        assert session.scalar(labels.where(Label.annotator_id == o.user_id)) == 0


def test_a_locked_token_row_is_never_waited_for(lane: Lane) -> None:
    """Another request of the same token holds its row: the lane skips the refresh, not waits.

    The holder lets go by itself after a while, so a lane that waited would come back late,
    with `released_by_timer` set, instead of hanging the test.
    """
    s = _setup(lane, pairs=2)
    holder = lane.engine.raw_connection()
    released_by_timer = threading.Event()

    def let_go() -> None:
        released_by_timer.set()
        holder.rollback()

    try:
        cursor = holder.cursor()
        cursor.execute("SELECT 1 FROM api_tokens WHERE user_id = %s FOR UPDATE", (s.user_id,))
        timer = threading.Timer(20.0, let_go)
        timer.start()
        pair = lane.client.get(f"/api/v1/projects/{s.project_id}/next", headers=s.headers)
        url = f"/api/v1/projects/{s.project_id}/labels"
        body = _body(pair.json()["comparison_id"], pair.json()["idempotency_key"])
        labelled = lane.client.post(url, json=body, headers=s.headers)
        timer.cancel()
        assert not released_by_timer.is_set(), "the lane waited for the token's row"
        assert pair.status_code == 200 and labelled.status_code == 201, labelled.text
        assert lane.calls == {"next": 2, "label": 1}
    finally:
        if not released_by_timer.is_set():
            holder.rollback()
        holder.close()
    with Session(lane.engine) as session:
        token = session.scalar(select(ApiToken).where(ApiToken.user_id == s.user_id))
        assert token is not None and token.last_used_at is None  # skipped, not waited for

    lane.client.get(f"/api/v1/projects/{s.project_id}/next", headers=s.headers)
    with Session(lane.engine) as session:
        token = session.scalar(select(ApiToken).where(ApiToken.user_id == s.user_id))
        assert token is not None and token.last_used_at is not None
