"""`pairs` import rows naming model_a and model_b become battles, whichever way round the
importer stores A and B."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Comparison, Prompt, Response, Role
from tests.auth_helpers import bearer
from tests.factories import make_project, make_token, make_user


def _admin(db: Session) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, role=Role.admin))[1])


def _import(
    client: TestClient, project_id: int, rows: list[dict[str, object]], headers: dict[str, str]
) -> dict[str, object]:
    body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    response = client.post(
        f"/api/v1/projects/{project_id}/import?format=pairs", content=body, headers=headers
    )
    assert response.status_code in (200, 422), response.text
    result: dict[str, object] = response.json()
    return result


def test_imported_battles_keep_each_response_with_its_model(
    client: TestClient, db: Session
) -> None:
    headers = _admin(db)
    project = make_project(db)
    db.commit()
    rows: list[dict[str, object]] = [
        {
            "prompt": f"question {i}",
            "response_a": f"alpha answers {i}",
            "response_b": f"beta answers {i}",
            "model_a": "alpha",
            "model_b": "beta",
            "label": "worse",  # A (alpha) is better
        }
        for i in range(20)
    ]
    rows.append(
        {"prompt": "unlabelled", "response_a": "x", "response_b": "y", "model_a": "alpha",
         "model_b": "beta"}
    )  # fmt: skip
    assert _import(client, project.id, rows, headers)["imported"] == 21

    stored = db.execute(
        select(Response.text, Response.model_name)
        .join(Prompt, Prompt.id == Response.prompt_id)
        .where(Prompt.project_id == project.id)
    ).all()
    assert len(stored) == 42
    for text, name in stored:
        expected = "alpha" if text.startswith("alpha") or text == "x" else "beta"
        assert name == expected, (text, name)
    # The importer randomised the A/B order of the labelled rows: both ways round occur, and
    # the leaderboard still credits every win to alpha.
    firsts = db.scalars(
        select(Response.model_name)
        .join(Comparison, Comparison.response_a_id == Response.id)
        .where(Comparison.project_id == project.id)
    ).all()
    assert {"alpha", "beta"} <= set(firsts)
    board = client.get(f"/api/v1/projects/{project.id}/leaderboard", headers=headers).json()
    rows_by_name = {m["name"]: m for m in board["models"]}
    assert (rows_by_name["alpha"]["wins"], rows_by_name["alpha"]["losses"]) == (20, 0)
    assert (rows_by_name["beta"]["wins"], rows_by_name["beta"]["losses"]) == (0, 20)
    assert board["models"][0]["name"] == "alpha" and board["base"] is None


def test_a_bad_model_name_is_refused_with_its_line(client: TestClient, db: Session) -> None:
    headers = _admin(db)
    project = make_project(db)
    db.commit()
    rows: list[dict[str, object]] = [
        {"prompt": "q", "response_a": "a", "response_b": "b", "model_a": "ok"},
        {"prompt": "q2", "response_a": "a", "response_b": "b", "model_b": 7},
        {"prompt": "q3", "response_a": "a", "response_b": "b", "model_a": "x" * 201},
    ]
    result = _import(client, project.id, rows, headers)
    assert result["detail"] == [
        {"line": 2, "message": "model_b must be a non-empty string naming the response's source"},
        {"line": 3, "message": "model_a has 201 characters; at most 200"},
    ]
