"""The rating page, the annotator API and its fast lane accept and refuse the same labels.

Each case sends the same labels through each path and expects the same answers (in each
path's own form: a redirect or a page for the browser, a status for the API) and the same
labels stored. The page's choice is about the screen's A and B: the test turns each choice
into the screen's order first, as an annotator looking at the page would.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import rating
from app.api import fast_lane
from app.config import Settings
from app.content import MAX_TEXT_CHARS
from app.db import session_scope
from app.models import Label
from tests.api.committed import LiveApp, live
from tests.auth_helpers import bearer, login
from tests.factories import make_comparison, make_project, make_token, make_user

__all__ = ["live"]  # a fixture: the committed app the fast lane serves

UNKNOWN = -1  # stands for a comparison id that does not exist
MISSING_ID = 2_000_000_000


@dataclass(frozen=True)
class Send:
    comparison: int  # index into the case's two comparisons, or UNKNOWN
    key: str  # a name: the same name is the same idempotency key within a case
    choice: str = "better"
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    name: str
    sends: list[Send]
    # One per send: stored | refused | missing | conflict | already.
    answers: list[str]
    # (comparison index, choice, strength, feedback, flag_untrue) of the labels stored.
    stored: list[tuple[int, str, str | None, str, bool]]


CASES = [
    Case(
        "valid",
        [
            Send(
                0,
                "k1",
                "worse",
                {"strength": "much", "feedback": "B is wrong", "flag_untrue": True},
            )
        ],
        ["stored"],
        [(0, "worse", "much", "B is wrong", True)],
    ),
    Case("strength_with_same", [Send(0, "k1", "same", {"strength": "slightly"})], ["refused"], []),
    Case("bad_choice", [Send(0, "k1", "maybe")], ["refused"], []),
    Case(
        "feedback_too_long",
        [Send(0, "k1", fields={"feedback": "x" * (MAX_TEXT_CHARS + 1)})],
        ["refused"],
        [],
    ),
    Case(
        "feedback_white_space",
        [
            Send(0, "k1", fields={"feedback": " \n fine\t "}),
            Send(1, "k2", fields={"feedback": " "}),
        ],
        ["stored", "stored"],
        [(0, "better", None, "fine", False), (1, "better", None, "", False)],
    ),
    Case("unknown_comparison", [Send(UNKNOWN, "k1")], ["missing"], []),
    Case(
        "retried_key",
        [Send(0, "k1", "same"), Send(0, "k1", "same")],
        ["stored", "stored"],
        [(0, "same", None, "", False)],
    ),
    Case(
        "key_reused_for_another_comparison",
        [Send(0, "k1"), Send(1, "k1")],
        ["stored", "conflict"],
        [(0, "better", None, "", False)],
    ),
    Case(
        "already_labelled",
        [Send(0, "k1"), Send(0, "k2", "worse")],
        ["stored", "already"],
        [(0, "better", None, "", False)],
    ),
]


@dataclass
class Seeded:
    project_id: int
    comparison_ids: list[int]
    user_id: int
    username: str
    token: str


def seed(session: Session) -> Seeded:
    project = make_project(session)
    ids = [make_comparison(session, project, priority=-n).id for n in range(2)]
    user = make_user(session)
    _, token = make_token(session, user)
    return Seeded(project.id, ids, user.id, user.username, token)


class RatingPath(Protocol):
    seeded: Seeded

    def start(self) -> None: ...

    def send(self, comparison_id: int, key: str, choice: str, fields: dict[str, Any]) -> str: ...

    def labels(self) -> list[Label]: ...


def _api_answer(response: Any) -> str:
    """The answer of `POST /api/v1/labels` in the words of the cases."""
    if response.status_code in (200, 201):
        return "stored"
    if response.status_code == 409:
        return "already" if "already labelled" in response.json()["detail"] else "conflict"
    return {422: "refused", 404: "missing"}.get(response.status_code, str(response.status_code))


def _api_body(comparison_id: int, key: str, choice: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"comparison_id": comparison_id, "idempotency_key": key, "choice": choice, **fields}


class PagePath:
    """The rating page's form, posted as the browser posts it."""

    def __init__(self, client: TestClient, db: Session, settings: Settings) -> None:
        self.client, self.db = client, db
        self.secret = settings.ensure_secret_key()
        self.seeded = seed(db)
        db.commit()

    def start(self) -> None:
        self.csrf = login(self.client, self.seeded.username)
        page = self.client.get(f"/rate?project={self.seeded.project_id}")
        assert page.status_code == 200 and "Response A" in page.text

    def send(self, comparison_id: int, key: str, choice: str, fields: dict[str, Any]) -> str:
        swapped = rating.shown_swapped(self.secret, self.seeded.user_id, comparison_id)
        form = {
            "csrf_token": self.csrf,
            "comparison_id": str(comparison_id),
            "project_id": str(self.seeded.project_id),
            "idempotency_key": key,
            "action": "submit",
            "choice": rating.screen_to_stored(choice, swapped),
            "strength": fields.get("strength", ""),
            "feedback": fields.get("feedback", ""),
            "rendered_at": "0",
        }
        if fields.get("flag_untrue"):
            form["flag_untrue"] = "true"
        response = self.client.post("/rate", data=form, follow_redirects=False)
        if response.status_code == 303:
            notice = re.search(r"notice=(\w+)", response.headers["location"])
            assert notice is not None, response.headers["location"]
            return {"saved": "stored"}.get(notice[1], notice[1])
        # Every refusal is a page for a person, never a JSON body.
        assert response.headers["content-type"].startswith("text/html"), response.text
        if response.status_code == 422:
            assert "Not saved" in response.text and "Back to rating" in response.text
        answers = {422: "refused", 404: "missing", 409: "conflict"}
        return answers.get(response.status_code, str(response.status_code))

    def labels(self) -> list[Label]:
        self.db.expire_all()
        query = select(Label).where(Label.annotator_id == self.seeded.user_id).order_by(Label.id)
        return list(self.db.scalars(query))


class ApiPath(PagePath):
    """`POST /api/v1/labels` through the full application (the test app overrides the
    session, which keeps the fast lane out of the way)."""

    def start(self) -> None:
        self.headers = bearer(self.seeded.token)
        shown = self.client.get(
            f"/api/v1/projects/{self.seeded.project_id}/next", headers=self.headers
        )
        assert shown.status_code == 200, shown.text

    def send(self, comparison_id: int, key: str, choice: str, fields: dict[str, Any]) -> str:
        body = _api_body(comparison_id, key, choice, fields)
        return _api_answer(self.client.post("/api/v1/labels", json=body, headers=self.headers))


class LanePath:
    """`POST /api/v1/labels` with a Bearer token on PostgreSQL: the fast lane."""

    def __init__(self, lane: LiveApp, monkeypatch: pytest.MonkeyPatch) -> None:
        self.lane = lane
        with session_scope(lane.engine) as session:
            self.seeded = seed(session)
        self.headers = bearer(self.seeded.token)
        record = fast_lane.label_queries.record_label_for_token
        self.labels_written: list[int] = []

        async def counted(*args: Any) -> Any:
            stored = await record(*args)
            if stored is not None:
                self.labels_written.append(stored.id)
            return stored

        monkeypatch.setattr(fast_lane.label_queries, "record_label_for_token", counted)

    def start(self) -> None:
        project = self.seeded.project_id
        shown = self.lane.client.get(f"/api/v1/projects/{project}/next", headers=self.headers)
        assert shown.status_code == 200, shown.text

    def send(self, comparison_id: int, key: str, choice: str, fields: dict[str, Any]) -> str:
        body = _api_body(comparison_id, key, choice, fields)
        return _api_answer(self.lane.client.post("/api/v1/labels", json=body, headers=self.headers))

    def labels(self) -> list[Label]:
        with session_scope(self.lane.engine) as session:
            query = select(Label).where(Label.annotator_id == self.seeded.user_id)
            labels = list(session.scalars(query.order_by(Label.id)))
            session.expunge_all()
        # Every label stored came from the lane's own statement, not the full path's.
        assert sorted(self.labels_written) == [label.id for label in labels]
        return labels


@pytest.fixture
def page_path(client: TestClient, db: Session, settings: Settings) -> PagePath:
    return PagePath(client, db, settings)


@pytest.fixture
def api_path(client: TestClient, db: Session, settings: Settings) -> ApiPath:
    return ApiPath(client, db, settings)


@pytest.fixture
def lane_path(live: LiveApp, monkeypatch: pytest.MonkeyPatch) -> LanePath:
    """On an app without overrides (`live`), where the fast lane applies."""
    return LanePath(live, monkeypatch)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize(
    "path_name", ["page", "api", pytest.param("lane", marks=pytest.mark.postgres_only)]
)
def test_every_path_accepts_and_refuses_the_same_labels(
    path_name: str, case: Case, request: pytest.FixtureRequest
) -> None:
    path: RatingPath = request.getfixturevalue(f"{path_name}_path")
    path.start()
    ids = path.seeded.comparison_ids
    keys = {send.key: uuid.uuid4().hex for send in case.sends}

    answers = [
        path.send(
            MISSING_ID if send.comparison == UNKNOWN else ids[send.comparison],
            keys[send.key],
            send.choice,
            send.fields,
        )
        for send in case.sends
    ]

    assert answers == case.answers
    stored = [
        (
            ids.index(label.comparison_id),
            label.choice,
            label.strength,
            label.feedback,
            label.flag_untrue,
        )
        for label in path.labels()
    ]
    assert stored == case.stored
