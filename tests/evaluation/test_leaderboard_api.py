"""GET /api/v1/projects/{id}/leaderboard on the database: what counts as a battle, counts,
order, the base policy, the reward model's verdicts, roles."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Comparison, Role
from app.queries.reward_scores import store_reward_scores
from tests.auth_helpers import bearer
from tests.evaluation.seed import make_battle, make_version
from tests.factories import make_comparison, make_label, make_project, make_token, make_user


def _headers(db: Session, role: Role = Role.trainer) -> dict[str, str]:
    return bearer(make_token(db, make_user(db, role=role))[1])


def _board(client: TestClient, project_id: int, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"/api/v1/projects/{project_id}/leaderboard", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_project_without_battles_has_an_empty_leaderboard(
    client: TestClient, db: Session
) -> None:
    project = make_project(db)
    # Pairs with no named source, or from one version only, are no battles.
    make_label(db, make_comparison(db, project), choice="better")
    base = make_version(db, project, name="base")
    make_battle(db, project, a=base, b=base, choices=["better"])
    body = _board(client, project.id, _headers(db))
    assert body["models"] == [] and body["battles"] == 0


def test_versions_and_imported_names_are_rated_with_exact_counts(
    client: TestClient, db: Session
) -> None:
    project = make_project(db)
    base = make_version(db, project, name="base")
    tuned = make_version(db, project, name="tuned", parent=base)
    project.policy_version_id = tuned.id
    for _ in range(3):
        make_battle(db, project, a=base, b=tuned, choices=["better"])  # tuned wins
    make_battle(db, project, a=tuned, b=base, choices=["better", "same"])  # base wins, tie
    make_battle(db, project, a="rival-7b", b=tuned, choices=["worse"])  # rival wins
    make_battle(db, project, a="rival-7b", b=base, choices=["worse", "worse"])  # rival wins
    body = _board(client, project.id, _headers(db, Role.admin))

    rows = {m["name"]: m for m in body["models"]}
    assert set(rows) == {"base", "tuned", "rival-7b"}
    assert [m["rating"] for m in body["models"]] == sorted(
        (m["rating"] for m in body["models"]), reverse=True
    )
    counts = {name: (m["wins"], m["losses"], m["ties"], m["battles"]) for name, m in rows.items()}
    assert counts == {"tuned": (3, 2, 1, 6), "base": (1, 5, 1, 7), "rival-7b": (3, 0, 0, 3)}
    assert rows["tuned"]["model_version_id"] == tuned.id
    assert rows["rival-7b"]["model_version_id"] is None
    assert body["battles"] == 8
    assert body["base"] == {"model_version_id": base.id, "name": "base"}
    assert rows["base"]["win_rate_vs_base"] == 0.5
    tuned_row = rows["tuned"]
    assert tuned_row["win_rate_vs_base_low"] <= tuned_row["win_rate_vs_base"]
    assert tuned_row["win_rate_vs_base"] <= tuned_row["win_rate_vs_base_high"]
    for m in body["models"]:
        assert m["ci_low"] <= m["rating"] <= m["ci_high"]
    assert body["confidence"] == 0.95 and body["bootstrap_rounds"] == 1000
    assert body["reward_model"] is None and rows["tuned"]["reward_model"] is None


def test_the_reward_model_verdicts_stand_beside_the_humans(client: TestClient, db: Session) -> None:
    project = make_project(db)
    base = make_version(db, project, name="base")
    tuned = make_version(db, project, name="tuned", parent=base)
    reward = make_version(db, project, name="reward-v1", kind="reward")
    project.reward_version_id = reward.id
    scores = []
    # Humans prefer the base every time; the reward model prefers the tuned policy.
    for _ in range(12):
        comparison = make_battle(db, project, a=base, b=tuned, choices=["worse"])
        scores += [(comparison.response_a_id, 0.0, 0.1), (comparison.response_b_id, 2.0, 0.1)]
    store_reward_scores(db, reward.id, scores)
    body = _board(client, project.id, _headers(db))
    rows = {m["name"]: m for m in body["models"]}
    assert body["reward_model"]["model_version_id"] == reward.id
    assert body["reward_model"]["battles"] == 12 and body["reward_model"]["agreement"] == 0.0
    verdicts = rows["tuned"]["reward_model"]
    assert verdicts["win_rate"] == 1.0 and verdicts["human_win_rate"] == 0.0
    assert verdicts["overrates"] is True and verdicts["agreement"] == 0.0
    assert rows["base"]["reward_model"]["overrates"] is False


def test_roles_missing_projects_and_a_bad_base(client: TestClient, db: Session) -> None:
    project = make_project(db)
    url = f"/api/v1/projects/{project.id}/leaderboard"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=_headers(db, Role.annotator)).status_code == 403
    assert (
        client.get("/api/v1/projects/987654/leaderboard", headers=_headers(db)).status_code == 404
    )
    reward = make_version(db, project, name="r", kind="reward")
    bad = client.get(f"{url}?base_version_id={reward.id}", headers=_headers(db))
    assert bad.status_code == 422 and "base_version_id" in str(bad.json()["detail"])


def test_evaluation_pairs_are_marked(db: Session) -> None:
    project = make_project(db)
    base = make_version(db, project, name="base")
    comparison = make_battle(db, project, a=base, b="other", choices=[])
    assert db.get(Comparison, comparison.id).evaluation is True  # type: ignore[union-attr]


def test_counts_follow_new_labels_and_scores_between_requests(
    client: TestClient, db: Session
) -> None:
    """The battle counts are cached between requests and brought up to date by the labels
    added since (app/leaderboard/project.py)."""
    headers = _headers(db)
    project = make_project(db)
    base = make_version(db, project, name="base")
    tuned = make_version(db, project, name="tuned", parent=base)
    reward = make_version(db, project, name="reward", kind="reward")
    project.reward_version_id = reward.id
    first = make_battle(db, project, a=base, b=tuned, choices=["better"])
    assert {m["name"]: m["wins"] for m in _board(client, project.id, headers)["models"]} == {
        "tuned": 1,
        "base": 0,
    }
    make_battle(db, project, a=tuned, b=base, choices=["better", "better"])
    body = _board(client, project.id, headers)
    assert {m["name"]: m["wins"] for m in body["models"]} == {"tuned": 1, "base": 2}
    assert body["reward_model"]["battles"] == 0
    store_reward_scores(
        db, reward.id, [(first.response_a_id, 0.0, None), (first.response_b_id, 1.0, None)]
    )
    body = _board(client, project.id, headers)
    assert body["reward_model"]["battles"] == 1 and body["reward_model"]["agreement"] == 1.0
    assert body["battles"] == 3
