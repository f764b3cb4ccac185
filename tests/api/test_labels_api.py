"""Annotator API: next comparison with lease, labels exactly once, skip, on the configured database."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import rating
from app.models import Assignment, Comparison, Label, Role, utcnow
from app.queries import labels as label_queries
from app.queries import queue
from harness.databases import fresh_database, migrated_engine
from tests.auth_helpers import bearer, login
from tests.factories import make_comparison, make_label, make_project, make_token, make_user


def _rater(db: Session, role: Role = Role.annotator) -> tuple[int, dict[str, str]]:
    user = make_user(db, role=role)
    _, plain = make_token(db, user)
    return user.id, bearer(plain)


def _label_body(comparison_id: int, **fields: object) -> dict[str, object]:
    return {
        "comparison_id": comparison_id,
        "idempotency_key": fields.pop("idempotency_key", uuid.uuid4().hex),
        "choice": fields.pop("choice", "better"),
        **fields,
    }


def test_next_returns_highest_priority_with_lease_and_key(client: TestClient, db: Session) -> None:
    project = make_project(db)
    make_comparison(db, project, priority=0)
    urgent = make_comparison(db, project, priority=5, text_a="first", text_b="second")
    user_id, headers = _rater(db)
    db.commit()

    response = client.get(f"/api/v1/projects/{project.id}/next", headers=headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["comparison_id"] == urgent.id
    assert body["response_a"]["text"] == "first"
    assert body["response_b"]["text"] == "second"
    assert body["prompt"][0]["role"] == "user"
    assert len(body["idempotency_key"]) >= 16
    assignment = db.get(Assignment, (urgent.id, user_id))
    assert assignment is not None and assignment.status == "leased"
    assert assignment.expires_at is not None and assignment.expires_at > utcnow()


def test_next_again_returns_the_held_comparison(client: TestClient, db: Session) -> None:
    project = make_project(db)
    for _ in range(3):
        make_comparison(db, project)
    _, headers = _rater(db)
    db.commit()
    first = client.get(f"/api/v1/projects/{project.id}/next", headers=headers).json()
    again = client.get(f"/api/v1/projects/{project.id}/next", headers=headers).json()
    assert again["comparison_id"] == first["comparison_id"]
    assert again["shown_swapped"] == first["shown_swapped"]


def test_two_annotators_do_not_get_the_last_slot(client: TestClient, db: Session) -> None:
    project = make_project(db, labels_per_comparison=1)
    only = make_comparison(db, project)
    _, first = _rater(db)
    _, second = _rater(db)
    db.commit()
    assert (
        client.get(f"/api/v1/projects/{project.id}/next", headers=first).json()["comparison_id"]
        == only.id
    )
    assert client.get(f"/api/v1/projects/{project.id}/next", headers=second).status_code == 204


def test_expired_lease_frees_the_slot(client: TestClient, db: Session) -> None:
    project = make_project(db)
    only = make_comparison(db, project)
    first_id, _ = _rater(db)
    _, second = _rater(db)
    db.add(
        Assignment(
            comparison_id=only.id,
            user_id=first_id,
            status="leased",
            expires_at=utcnow() - timedelta(seconds=1),
        )
    )
    db.commit()
    response = client.get(f"/api/v1/projects/{project.id}/next", headers=second)
    assert response.status_code == 200
    assert response.json()["comparison_id"] == only.id


def test_overlap_gives_a_comparison_to_several_annotators(client: TestClient, db: Session) -> None:
    project = make_project(db, labels_per_comparison=2)
    only = make_comparison(db, project)
    raters = [_rater(db)[1] for _ in range(3)]
    db.commit()
    got = [client.get(f"/api/v1/projects/{project.id}/next", headers=h) for h in raters]
    assert [r.status_code for r in got] == [200, 200, 204]
    assert {r.json()["comparison_id"] for r in got[:2]} == {only.id}


def test_label_is_created_once_and_retry_returns_it(client: TestClient, db: Session) -> None:
    project = make_project(db)
    comparison = make_comparison(db, project)
    user_id, headers = _rater(db)
    db.commit()
    body = _label_body(
        comparison.id,
        choice="worse",
        strength="much",
        feedback="B invents a date",
        flag_untrue=True,
        time_spent_ms=4200,
    )

    created = client.post("/api/v1/labels", json=body, headers=headers)
    retried = client.post("/api/v1/labels", json=body, headers=headers)

    assert created.status_code == 201, created.text
    assert retried.status_code == 200
    assert retried.json() == created.json()
    labels = db.scalars(select(Label).where(Label.comparison_id == comparison.id)).all()
    assert len(labels) == 1
    label = labels[0]
    assert (label.annotator_id, label.choice, label.strength) == (user_id, "worse", "much")
    assert (label.feedback, label.flag_untrue, label.flag_harmful) == (
        "B invents a date",
        True,
        False,
    )
    assert label.time_spent_ms == 4200
    db.refresh(comparison)
    assert comparison.label_count == 1
    assignment = db.get(Assignment, (comparison.id, user_id))
    assert assignment is not None and assignment.status == "done"


def test_label_records_the_servers_display_order(
    client: TestClient, db: Session, settings: object
) -> None:
    project = make_project(db)
    comparison = make_comparison(db, project)
    user_id, headers = _rater(db)
    db.commit()
    shown = client.get(f"/api/v1/projects/{project.id}/next", headers=headers).json()
    client.post("/api/v1/labels", json=_label_body(comparison.id), headers=headers)
    label = db.scalar(select(Label).where(Label.comparison_id == comparison.id))
    assert label is not None
    assert label.shown_swapped == shown["shown_swapped"]
    secret = client.app.state.settings.ensure_secret_key()  # type: ignore[attr-defined]
    assert label.shown_swapped == rating.shown_swapped(secret, user_id, comparison.id)


def test_second_label_with_another_key_is_409(client: TestClient, db: Session) -> None:
    project = make_project(db)
    comparison = make_comparison(db, project)
    _, headers = _rater(db)
    db.commit()
    assert (
        client.post("/api/v1/labels", json=_label_body(comparison.id), headers=headers).status_code
        == 201
    )
    again = client.post(
        "/api/v1/labels", json=_label_body(comparison.id, choice="same"), headers=headers
    )
    assert again.status_code == 409
    assert "already labelled" in again.json()["detail"]
    assert db.scalar(select(func.count()).select_from(Label)) == 1


def test_key_of_another_annotator_is_409_and_reveals_nothing(
    client: TestClient, db: Session
) -> None:
    project = make_project(db)
    comparison = make_comparison(db, project)
    _, alice = _rater(db)
    _, bob = _rater(db)
    db.commit()
    body = _label_body(comparison.id, feedback="private")
    assert client.post("/api/v1/labels", json=body, headers=alice).status_code == 201
    stolen = client.post("/api/v1/labels", json=body, headers=bob)
    assert stolen.status_code == 409
    assert "private" not in stolen.text


def test_label_for_unknown_comparison_is_404(client: TestClient, db: Session) -> None:
    _, headers = _rater(db)
    db.commit()
    response = client.post("/api/v1/labels", json=_label_body(999_999), headers=headers)
    assert response.status_code == 404
    assert db.scalar(select(func.count()).select_from(Label)) == 0


def test_strength_with_same_is_refused(client: TestClient, db: Session) -> None:
    project = make_project(db)
    comparison = make_comparison(db, project)
    _, headers = _rater(db)
    db.commit()
    body = _label_body(comparison.id, choice="same", strength="much")
    assert client.post("/api/v1/labels", json=body, headers=headers).status_code == 422


def test_labelled_and_skipped_comparisons_are_not_offered_again(
    client: TestClient, db: Session
) -> None:
    project = make_project(db, labels_per_comparison=3)
    labelled = make_comparison(db, project, priority=2)
    skipped = make_comparison(db, project, priority=1)
    last = make_comparison(db, project, priority=0)
    _, headers = _rater(db)
    db.commit()
    url = f"/api/v1/projects/{project.id}/next"
    assert client.get(url, headers=headers).json()["comparison_id"] == labelled.id
    client.post("/api/v1/labels", json=_label_body(labelled.id), headers=headers)
    assert client.get(url, headers=headers).json()["comparison_id"] == skipped.id
    skip = client.post(f"/api/v1/comparisons/{skipped.id}/skip", headers=headers)
    assert skip.status_code == 200 and skip.json() == {
        "comparison_id": skipped.id,
        "status": "skipped",
    }
    assert client.get(url, headers=headers).json()["comparison_id"] == last.id
    client.post(f"/api/v1/comparisons/{last.id}/skip", headers=headers)
    assert client.get(url, headers=headers).status_code == 204


def test_full_comparisons_are_not_offered(client: TestClient, db: Session) -> None:
    project = make_project(db)
    full = make_comparison(db, project, priority=9)
    make_label(db, full, annotator=make_user(db))
    other = make_comparison(db, project)
    _, headers = _rater(db)
    db.commit()
    got = client.get(f"/api/v1/projects/{project.id}/next", headers=headers).json()
    assert got["comparison_id"] == other.id


def test_skip_unknown_comparison_is_404(client: TestClient, db: Session) -> None:
    _, headers = _rater(db)
    db.commit()
    assert client.post("/api/v1/comparisons/424242/skip", headers=headers).status_code == 404


def test_next_for_unknown_project_is_404(client: TestClient, db: Session) -> None:
    _, headers = _rater(db)
    db.commit()
    assert client.get("/api/v1/projects/424242/next", headers=headers).status_code == 404


def test_trainer_cannot_rate(client: TestClient, db: Session) -> None:
    project = make_project(db)
    make_comparison(db, project)
    _, headers = _rater(db, role=Role.trainer)
    db.commit()
    assert client.get(f"/api/v1/projects/{project.id}/next", headers=headers).status_code == 403


def test_admin_can_rate(client: TestClient, db: Session) -> None:
    project = make_project(db)
    comparison = make_comparison(db, project)
    _, headers = _rater(db, role=Role.admin)
    db.commit()
    assert (
        client.post("/api/v1/labels", json=_label_body(comparison.id), headers=headers).status_code
        == 201
    )


def test_anonymous_caller_is_401(client: TestClient, db: Session) -> None:
    project = make_project(db)
    db.commit()
    assert client.get(f"/api/v1/projects/{project.id}/next").status_code == 401
    assert client.post("/api/v1/labels", json=_label_body(1)).status_code == 401


def test_browser_session_needs_csrf_header_to_label(client: TestClient, db: Session) -> None:
    project = make_project(db)
    comparison = make_comparison(db, project)
    make_user(db, username="sessionrater")
    db.commit()
    csrf = login(client, "sessionrater")
    body = _label_body(comparison.id)
    assert client.post("/api/v1/labels", json=body).status_code == 403
    ok = client.post("/api/v1/labels", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert db.scalar(select(Comparison.label_count).where(Comparison.id == comparison.id)) == 1


def test_token_use_is_recorded(client: TestClient, db: Session) -> None:
    project = make_project(db)
    make_comparison(db, project)
    user = make_user(db)
    token, plain = make_token(db, user)
    db.commit()
    assert token.last_used_at is None
    client.get(f"/api/v1/projects/{project.id}/next", headers=bearer(plain))
    db.refresh(token)
    assert token.last_used_at is not None


def test_revoked_token_is_refused(client: TestClient, db: Session) -> None:
    project = make_project(db)
    make_comparison(db, project)
    user = make_user(db)
    token, plain = make_token(db, user)
    token.revoked_at = utcnow()
    db.commit()
    response = client.get(f"/api/v1/projects/{project.id}/next", headers=bearer(plain))
    assert response.status_code == 401


def test_concurrent_annotators_label_each_pair_once(tmp_path: Path) -> None:
    """Real threads on a real committed database: every pair labelled exactly once, no loss."""
    with fresh_database(tmp_path) as url:
        engine = migrated_engine(url, tmp_path)
        try:
            with Session(engine) as session, session.begin():
                project = make_project(session, labels_per_comparison=1)
                comparisons = [make_comparison(session, project) for _ in range(40)]
                users = [make_user(session, password=None) for _ in range(8)]
                project_id, user_ids = project.id, [u.id for u in users]
                comparison_ids = [c.id for c in comparisons]
            labelled: list[int] = []
            errors: list[BaseException] = []

            def annotate(user_id: int) -> None:
                try:
                    while True:
                        with Session(engine) as session, session.begin():
                            leased = queue.take_next(
                                session,
                                project_id=project_id,
                                user_id=user_id,
                                lease_for=timedelta(minutes=5),
                                gold_key="test",
                            )
                        if leased is None:
                            return
                        with Session(engine) as session, session.begin():
                            _, created = label_queries.record_label(
                                session,
                                label_queries.LabelInput(
                                    comparison_id=leased.content.comparison_id,
                                    annotator_id=user_id,
                                    idempotency_key=uuid.uuid4().hex,
                                    choice="better",
                                    strength=None,
                                    feedback="",
                                    flag_harmful=False,
                                    flag_untrue=False,
                                    flag_unhelpful=False,
                                    shown_swapped=False,
                                    time_spent_ms=1,
                                ),
                            )
                        assert created
                        labelled.append(leased.content.comparison_id)
                except BaseException as exc:  # reported to the test thread below
                    errors.append(exc)

            threads = [threading.Thread(target=annotate, args=(u,)) for u in user_ids]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert errors == []
            assert sorted(labelled) == sorted(comparison_ids)
            with Session(engine) as session:
                per_pair = session.execute(
                    select(Label.comparison_id, func.count()).group_by(Label.comparison_id)
                ).all()
                counts = session.scalars(select(Comparison.label_count)).all()
            assert len(per_pair) == 40 and all(n == 1 for _, n in per_pair)
            assert sorted(counts) == [1] * 40
        finally:
            engine.dispose()


def test_pair_added_after_the_queue_ran_dry_is_offered(client: TestClient, db: Session) -> None:
    project = make_project(db)
    first = make_comparison(db, project)
    _, headers = _rater(db)
    db.commit()
    url = f"/api/v1/projects/{project.id}/next"
    assert client.get(url, headers=headers).json()["comparison_id"] == first.id
    client.post("/api/v1/labels", json=_label_body(first.id), headers=headers)
    assert client.get(url, headers=headers).status_code == 204
    # Added above the queue position a worker may have cached a moment ago.
    later = make_comparison(db, project, priority=3)
    db.commit()
    assert client.get(url, headers=headers).json()["comparison_id"] == later.id
