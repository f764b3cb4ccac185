"""The leaderboard's trusted-only view: the trust rule of training (app/queries/
trusted_labels.py) decides which labels count, on the API, the CLI and the models page, and
the cached counts follow a suspension or reinstatement at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role, User
from app.quality import actions
from tests.auth_helpers import bearer, login
from tests.evaluation.seed import make_battle, make_version
from tests.factories import make_project, make_token, make_user
from tests.test_cli import cli_env, rlhf

__all__ = ["cli_env"]


def _wins(client: TestClient, project_id: int, token: str, trusted: bool) -> dict[str, Any]:
    url = f"/api/v1/projects/{project_id}/leaderboard"
    answer = client.get(url, params={"trusted_only": str(trusted).lower()}, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["trusted_only"] is trusted
    return {
        "battles": body["battles"],
        **{m["name"]: (m["wins"], m["losses"], m["ties"]) for m in body["models"]},
    }


def test_trusted_only_leaves_out_suspended_annotators_and_gold_pairs(
    client: TestClient, db: Session
) -> None:
    project = make_project(db)
    base = make_version(db, project, name="base")
    tuned = make_version(db, project, name="tuned", parent=base)
    honest, spammer = make_user(db), make_user(db)
    admin = make_user(db, role=Role.admin)
    token = make_token(db, make_user(db, role=Role.trainer))[1]
    for _ in range(3):  # the honest annotator prefers the tuned policy
        make_battle(db, project, a=base, b=tuned, choices=["better"], annotators=[honest])
    for _ in range(4):  # the spammer always the base
        make_battle(db, project, a=base, b=tuned, choices=["worse"], annotators=[spammer])
    make_battle(db, project, a="imported-rival", b=tuned, choices=["worse"])  # no annotator
    gold = make_battle(db, project, a=base, b=tuned, choices=["same"], annotators=[honest])
    gold.gold_choice = "same"
    db.commit()

    everything = {"battles": 9, "tuned": (3, 5, 1), "base": (4, 3, 1), "imported-rival": (1, 0, 0)}
    assert _wins(client, project.id, token, trusted=False) == everything
    # Nobody flagged yet: only the gold pair is left out.
    trusted = {"battles": 8, "tuned": (3, 5, 0), "base": (4, 3, 0), "imported-rival": (1, 0, 0)}
    assert _wins(client, project.id, token, trusted=True) == trusted

    actions.suspend(db, project.id, spammer.id, admin, "always the same side")
    db.commit()
    # No new label since: the cached trusted counts must notice the suspension by themselves.
    after = {"battles": 4, "tuned": (3, 1, 0), "base": (0, 3, 0), "imported-rival": (1, 0, 0)}
    assert _wins(client, project.id, token, trusted=True) == after
    assert _wins(client, project.id, token, trusted=False) == everything

    # A new label from the suspended annotator is counted incrementally, and left out too.
    make_battle(db, project, a=base, b=tuned, choices=["worse"], annotators=[spammer])
    make_battle(db, project, a=base, b=tuned, choices=["better"], annotators=[honest])
    db.commit()
    after = {"battles": 5, "tuned": (4, 1, 0), "base": (0, 4, 0), "imported-rival": (1, 0, 0)}
    assert _wins(client, project.id, token, trusted=True) == after
    assert _wins(client, project.id, token, trusted=False)["battles"] == 11

    actions.reinstate(db, project.id, spammer.id, admin, "talked it through")
    db.commit()
    assert _wins(client, project.id, token, trusted=True)["battles"] == 10


def test_the_models_page_has_a_trusted_only_checkbox(client: TestClient, db: Session) -> None:
    project = make_project(db)
    base = make_version(db, project, name="base")
    tuned = make_version(db, project, name="tuned", parent=base)
    spammer: User = make_user(db)
    admin = make_user(db, role=Role.admin)
    for _ in range(3):
        make_battle(db, project, a=base, b=tuned, choices=["worse"], annotators=[spammer])
    make_battle(db, project, a=base, b=tuned, choices=["better"])
    actions.suspend(db, project.id, spammer.id, admin, "spam")
    db.commit()
    login(client, admin.username)
    page = client.get(f"/models?project={project.id}")
    assert 'id="trusted_only"' in page.text and "Trusted labels only</label>" in page.text
    assert 'name="trusted_only" value="true" checked' not in page.text
    assert "4 battles;" in page.text
    trusted = client.get(f"/models?project={project.id}&trusted_only=true")
    assert 'value="true" checked' in trusted.text
    assert "Trusted labels only. 1 battles;" in trusted.text


def test_rlhf_leaderboard_trusted_only(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert rlhf(cli_env, "migrate").returncode == 0
    assert rlhf(cli_env, "projects", "create", "trusted-arena").returncode == 0
    rows = [
        {"prompt": f"q{i}", "response_a": f"a{i}", "response_b": f"b{i}", "model_a": "small",
         "model_b": "large", "label": "better", **({"gold": "better"} if i < 4 else {})}
        for i in range(10)
    ]  # fmt: skip
    battles = tmp_path / "battles.jsonl"
    battles.write_text("".join(json.dumps(r) + "\n" for r in rows))
    imported = rlhf(cli_env, "import", "trusted-arena", str(battles))
    assert imported.returncode == 0, imported.stderr

    def board(*flags: str) -> dict[str, Any]:
        shown = rlhf(cli_env, "leaderboard", "trusted-arena", "--json", *flags)
        assert shown.returncode == 0, shown.stderr
        found: dict[str, Any] = json.loads(shown.stdout)
        return found

    assert board()["battles"] == 10 and board()["trusted_only"] is False
    trusted = board("--trusted-only")
    assert trusted["trusted_only"] is True and trusted["battles"] == 6  # gold pairs left out
    assert {m["name"]: m["wins"] for m in trusted["models"]} == {"large": 6, "small": 0}
    table = rlhf(cli_env, "leaderboard", "trusted-arena", "--trusted-only")
    assert table.returncode == 0 and '"trusted_only": true' in table.stdout
