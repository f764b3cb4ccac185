"""The start-a-job form offers dpo with typed fields, from its parameter model alone."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Job, Role
from tests.auth_helpers import csrf_from, login
from tests.factories import make_project, make_user


def test_dpo_fields_are_typed_and_post_into_the_api_model(client: TestClient, db: Session) -> None:
    login(client, make_user(db, role=Role.trainer).username)
    project = make_project(db)
    page = client.get("/jobs")
    assert 'id="kind-template-dpo"' in page.text
    assert re.search(r'<input[^>]*type="number"[^>]*name="dpo.beta"', page.text), "beta"
    assert re.search(r'<select[^>]*name="dpo.loss_type"', page.text), "loss type"
    assert re.search(r'<select[^>]*name="iterate.method"', page.text), "iterate method"
    form = {"project_id": str(project.id), "kind": "dpo", "csrf_token": csrf_from(page.text)}

    bad = client.post("/jobs", data={**form, "dpo.beta": "0"})
    assert bad.status_code == 422
    assert re.search(r'id="param-dpo-beta-error">Input should be greater than 0', bad.text)
    started = client.post(
        "/jobs",
        data={**form, "dpo.beta": "0.2", "dpo.loss_type": "robust", "dpo.label_smoothing": "0.1"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    job = db.get_one(Job, int(started.headers["location"].rsplit("/", 1)[1]))
    assert job.kind == "dpo" and job.params["beta"] == 0.2
    assert (job.params["loss_type"], job.params["label_smoothing"]) == ("robust", 0.1)
