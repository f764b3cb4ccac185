"""The project form's gold rate and quality thresholds: the API's own models decide, errors
show beside their fields with what was typed, blanks follow the defaults."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Project, Role
from tests.auth_helpers import bearer, login
from tests.factories import make_project, make_token, make_user

SIDE = "quality_thresholds.side_share_flag"


def _error(page: str, dom_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{re.escape(dom_id)}-error">([^<]*)</p>', page)
    assert match, f"no error shown for {dom_id}"
    return html.unescape(match.group(1))


def test_new_project_takes_gold_rate_and_thresholds_as_the_api_does(
    client: TestClient, db: Session
) -> None:
    admin = make_user(db, role=Role.admin)
    _, api_token = make_token(db, admin)
    db.commit()
    token = login(client, admin.username)
    page = client.get("/projects/new")
    assert 'id="gold_rate"' in page.text and 'id="param-quality-thresholds-test-p"' in page.text
    assert "Blank: the default, 0.6." in page.text  # gold_accuracy_flag's default
    assert "Off unless set." in page.text  # automatic suspension

    form = {
        "csrf_token": token,
        "name": "Gold project",
        "labels_per_comparison": "1",
        "gold_rate": "1.5",
        SIDE: "0.3",
        "quality_thresholds.min_gold_labels": "ten",
    }
    bad = client.post("/projects", data=form)
    assert bad.status_code == 422
    api = client.post(
        "/api/v1/projects",
        json={
            "name": "Gold project",
            "gold_rate": 1.5,
            "quality_thresholds": {"side_share_flag": 0.3, "min_gold_labels": "ten"},
        },
        headers=bearer(api_token),
    )
    assert api.status_code == 422
    by_field = {".".join(map(str, e["loc"][1:])): e["msg"] for e in api.json()["detail"]}
    # The same model refuses the same values with the same words, beside each field.
    assert _error(bad.text, "gold_rate") == by_field["gold_rate"]
    assert _error(bad.text, "param-quality-thresholds-side-share-flag") == by_field[SIDE]
    assert "greater than or equal to 0.5" in by_field[SIDE]
    assert _error(bad.text, "param-quality-thresholds-min-gold-labels").startswith(
        "Input should be a valid integer"
    )
    assert 'value="0.3"' in bad.text and 'value="ten"' in bad.text and 'value="1.5"' in bad.text
    assert '<details id="thresholds" open>' in bad.text
    assert db.scalar(select(Project).where(Project.name == "Gold project")) is None

    good = {
        **form,
        "gold_rate": "0.05",
        SIDE: "0.7",
        "quality_thresholds.min_gold_labels": "",
        "quality_thresholds.suspend_competence_below": "0.3",
    }
    made = client.post("/projects", data=good, follow_redirects=False)
    assert made.status_code == 303
    project = db.scalar(select(Project).where(Project.name == "Gold project"))
    assert project is not None and project.gold_rate == 0.05
    # Only what was given is stored: a blank follows the default, even a later one.
    assert project.quality_thresholds == {"side_share_flag": 0.7, "suspend_competence_below": 0.3}


def test_settings_form_shows_changes_and_clears_thresholds(client: TestClient, db: Session) -> None:
    admin = make_user(db, role=Role.admin)
    project = make_project(
        db, gold_rate=0.1, quality_thresholds={"test_p": 0.001, "min_labels": 40}
    )
    db.commit()
    token = login(client, admin.username)
    page = client.get(f"/projects/{project.id}/edit")
    assert re.search(r'id="gold_rate"[^>]*value="0.1"', page.text)
    assert re.search(r'id="param-quality-thresholds-test-p"[^>]*value="0.001"', page.text)
    assert '<details id="thresholds" open>' in page.text
    form = {
        "csrf_token": token,
        "name": project.name,
        "guidelines": "",
        "labels_per_comparison": "1",
        "gold_rate": "0.2",
        "quality_thresholds.test_p": "1",
        "quality_thresholds.min_labels": "40",
    }
    bad = client.post(f"/projects/{project.id}/edit", data=form)
    assert bad.status_code == 422
    assert "less than 1" in _error(bad.text, "param-quality-thresholds-test-p")
    db.refresh(project)
    assert project.gold_rate == 0.1  # nothing written

    saved = client.post(
        f"/projects/{project.id}/edit",
        data={
            **form,
            "quality_thresholds.test_p": "",
            "quality_thresholds.agreement_margin": "0.2",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    db.refresh(project)
    assert project.gold_rate == 0.2
    assert project.quality_thresholds == {"min_labels": 40, "agreement_margin": 0.2}
