"""The jobs pages: list with a start form (CSRF), a job's page, cancel; roles. Plus a browser
check that the live charts draw under the CSP."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Job, ModelVersion, Role, User
from app.queries import jobs as job_queries
from tests.auth_helpers import csrf_from, login
from tests.factories import PASSWORD, make_project, make_user
from tests.live import LiveServer, unique


def _trainer(client: TestClient, db: Session) -> tuple[User, str]:
    user = make_user(db, role=Role.trainer)
    return user, login(client, user.username)


def test_jobs_page_lists_jobs_and_starts_one(client: TestClient, db: Session) -> None:
    user, _ = _trainer(client, db)
    project = make_project(db, name="Kitchen helper")
    old = job_queries.enqueue_job(
        db, project_id=project.id, kind="reward", params={}, max_attempts=3
    )

    page = client.get("/jobs")
    assert page.status_code == 200
    assert f'href="/jobs/{old.id}"' in page.text and "Kitchen helper" in page.text
    # Typed fields generated from the parameter models, the selected kind's in the page and
    # every other kind's in a <template>.
    assert 'id="param-reward-epochs"' in page.text and 'name="reward.epochs"' in page.text
    assert 'id="kind-template-ppo"' in page.text and "/static/jobs.css" in page.text
    token = csrf_from(page.text)

    started = client.post(
        "/jobs",
        data={
            "project_id": str(project.id),
            "kind": "generate",
            "generate.max_prompts": "3",
            "generate.temperature": "0.5",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert started.status_code == 303
    job_id = int(started.headers["location"].rsplit("/", 1)[1])
    job = db.get_one(Job, job_id)
    assert (job.kind, job.status, job.created_by_id) == ("generate", "queued", user.id)
    assert job.params["max_prompts"] == 3 and job.params["temperature"] == 0.5
    assert job.params["top_p"] == 0.95  # a field left as it was keeps the model's default


def test_start_form_refuses_bad_params_and_missing_csrf(client: TestClient, db: Session) -> None:
    _trainer(client, db)
    project = make_project(db)
    token = csrf_from(client.get("/jobs").text)
    form = {"project_id": str(project.id), "kind": "reward", "csrf_token": token}

    typo = client.post("/jobs", data={**form, "advanced": '{"epochz": 1}'})
    assert typo.status_code == 422 and "Unknown parameter “epochz”" in typo.text
    assert "{&#34;epochz&#34;: 1}" in typo.text  # the form keeps what was typed, escaped
    not_json = client.post("/jobs", data={**form, "advanced": "{oops"})
    assert not_json.status_code == 422 and "Not JSON" in not_json.text
    # A typed field out of range: its message sits next to it, the typed value stays.
    low = client.post("/jobs", data={**form, "reward.epochs": "0", "reward.batch_size": "7"})
    assert low.status_code == 422
    assert re.search(
        r'id="param-reward-epochs-error">Input should be greater than or equal to 1', low.text
    )
    assert 'name="reward.batch_size" value="7"' in low.text
    # A rule across parameters is shown above the kind's fields.
    ppo = {**form, "kind": "ppo", "ppo.batch_size": "10", "ppo.num_mini_batches": "3"}
    crossed = client.post("/jobs", data=ppo)
    assert crossed.status_code == 422 and "multiple of num_mini_batches" in crossed.text
    no_csrf = client.post("/jobs", data={**form, "csrf_token": "wrong"})
    assert no_csrf.status_code == 403
    # A version of another project is refused here, as the API refuses it, rather than
    # queued to fail later in the worker.
    other = make_project(db)
    theirs = ModelVersion(project_id=other.id, kind="policy", name="p", base_model="b", path="p")
    db.add(theirs)
    db.flush()
    ppo = {**form, "kind": "generate", "advanced": f'{{"policy_version_id": {theirs.id}}}'}
    foreign = client.post("/jobs", data=ppo)
    assert foreign.status_code == 422
    assert "policy_version_id" in foreign.text and "belongs to another project" in foreign.text
    assert db.scalars(select(Job).where(Job.project_id == project.id)).all() == []


def test_start_form_refuses_a_version_of_another_project(client: TestClient, db: Session) -> None:
    _trainer(client, db)
    project, other = make_project(db), make_project(db)
    foreign = ModelVersion(project_id=other.id, kind="policy", name="p", base_model="b", path="x")
    db.add(foreign)
    db.flush()
    token = csrf_from(client.get("/jobs").text)
    form = {
        "csrf_token": token,
        "project_id": str(project.id),
        "kind": "ppo",
        "ppo.policy_version_id": str(foreign.id),
    }
    refused = client.post("/jobs", data=form)
    assert refused.status_code == 422
    assert re.search(
        r'id="param-ppo-policy-version-id-error">Model version \d+ belongs to another project',
        refused.text,
    )
    assert db.scalars(select(Job).where(Job.project_id == project.id)).all() == []


def test_job_page_shows_status_progress_version_and_cancel(client: TestClient, db: Session) -> None:
    _trainer(client, db)
    project = make_project(db)
    job = job_queries.enqueue_job(
        db, project_id=project.id, kind="ppo", params={"total_steps": 5}, max_attempts=3
    )
    job_queries.claim_job(db, job.id, "w", 60)
    job_queries.record_progress(db, job.id, "w", 1, 0.2, {"objective/kl": 0.1})

    page = client.get(f"/jobs/{job.id}")
    assert page.status_code == 200
    html = page.text
    assert 'id="job-status"' in html and ">running<" in html
    assert re.search(r'<progress id="job-progress" max="1" value="0.2"', html)
    assert f'data-job-id="{job.id}"' in html and 'src="/static/jobs.js"' in html
    assert "Score against √KL" in html and 'id="samples"' in html
    assert "<script>" not in html and "style=" not in html  # CSP: files only

    cancelled = client.post(
        f"/jobs/{job.id}/cancel", data={"csrf_token": csrf_from(html)}, follow_redirects=False
    )
    assert cancelled.status_code == 303
    db.refresh(job)
    assert job.cancel_requested
    assert client.get("/jobs/999999").status_code == 404


@pytest.mark.parametrize(
    ("kind", "metrics", "shown"),
    [
        (
            "evaluate",
            {"prompts": 40.0, "versions": 3.0, "comparisons_created": 117.0, "empty": 2.0},
            {"prompts": "40", "versions": "3", "comparisons_created": "117"},
        ),
        (
            "dpo",
            {"loss": 0.6512, "rewards/accuracies": 0.75, "rewards/margins": 0.0421,
             "accuracy": 0.6875, "kl": 0.0123, "lr": 1e-6},
            {"loss": "0.6512", "rewards-accuracies": "0.75", "rewards-margins": "0.0421",
             "accuracy": "0.6875", "kl": "0.0123"},
        ),
    ],
)  # fmt: skip
def test_job_page_leads_with_the_kinds_key_metrics(
    client: TestClient, db: Session, kind: str, metrics: dict[str, float], shown: dict[str, str]
) -> None:
    _trainer(client, db)
    project = make_project(db)
    job = job_queries.enqueue_job(db, project_id=project.id, kind=kind, params={}, max_attempts=1)
    job.status, job.metrics = "succeeded", metrics
    db.flush()
    html = client.get(f"/jobs/{job.id}").text
    tiles = html[html.index('aria-label="Latest values"') : html.index('class="job-facts"')]
    found = dict(re.findall(r'<dd id="key-([^"]+)">([^<]*)</dd>', tiles))
    assert found == shown
    assert "lr" not in found and "empty" not in found


def test_annotators_and_anonymous_users_cannot_see_jobs(client: TestClient, db: Session) -> None:
    assert client.get("/jobs", follow_redirects=False).status_code == 303
    annotator = make_user(db, role=Role.annotator)
    token = login(client, annotator.username)
    assert client.get("/jobs").status_code == 403
    project = make_project(db)
    refused = client.post(
        "/jobs", data={"project_id": str(project.id), "kind": "reward", "csrf_token": token}
    )
    assert refused.status_code == 403


def test_static_files_are_served(client: TestClient) -> None:
    script = client.get("/static/jobs.js")
    assert script.status_code == 200 and "createElementNS" in script.text
    assert client.get("/static/jobs.css").status_code == 200


@pytest.mark.browser
def test_job_page_draws_live_charts_in_a_browser(live_server: LiveServer, page: Any) -> None:
    with live_server.session() as session:
        user = make_user(session, username=unique("trainer"), role=Role.trainer)
        project = make_project(session, name=unique("charts"))
        job = job_queries.enqueue_job(
            session, project_id=project.id, kind="ppo", params={}, max_attempts=3
        )
        job_queries.claim_job(session, job.id, "w", 600)
        for step in range(1, 6):
            job_queries.record_progress(
                session,
                job.id,
                "w",
                step,
                step / 10,
                {"objective/scores": 0.1 * step, "objective/kl": 0.02 * step, "loss": 1 / step},
            )
        job_queries.record_samples(
            session, job.id, "w", 5, [{"prompt": "hi", "response": "hello there", "score": 0.5}]
        )
        username, job_id = user.username, job.id

    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/jobs/{job_id}")
    # PPO's own metrics (reward, KL) are drawn first; the others under "More metrics".
    page.locator("#charts figure.chart").nth(1).wait_for()
    assert page.locator("#charts figure.chart polyline").count() == 2
    assert page.locator("#charts figcaption").first.inner_text().startswith("objective/scores")
    assert page.locator("#more-charts figure.chart polyline").count() == 1
    assert page.locator("#key-objective-scores").inner_text() == "0.5"
    assert page.locator("#frontier circle").count() == 5
    assert page.locator("#samples tr").first.inner_text().startswith("5")
    assert "hello there" in page.locator("#samples").inner_text()
    assert page.locator("#job-progress-text").inner_text() == "50%"
    # More steps arrive while the page is open; it polls and redraws.
    with live_server.session() as session:
        job_queries.record_progress(
            session,
            job_id,
            "w",
            6,
            0.9,
            {"objective/scores": 1.0, "objective/kl": 0.2, "loss": 0.1},
        )
    page.locator("#job-progress-text", has_text="90%").wait_for()
    assert "step      6" in page.locator("#job-log").inner_text()
    page.locator("#frontier circle").nth(5).wait_for()
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
