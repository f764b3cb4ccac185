"""The console's forms through the app (no browser): field errors beside their fields, what
was typed kept, all-or-nothing imports, size limits, the last admin, tokens shown once."""

from __future__ import annotations

import gzip
import json
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import ApiToken, Comparison, ModelVersion, Project, Role, User
from tests.auth_helpers import login
from tests.factories import make_comparison, make_label, make_project, make_user


def _admin(client: TestClient, db: Session) -> tuple[User, str]:
    user = make_user(db, role=Role.admin)
    db.commit()
    return user, login(client, user.username)


def _count(db: Session, project_id: int) -> int:
    db.expire_all()
    found = db.scalar(
        select(func.count()).select_from(Comparison).where(Comparison.project_id == project_id)
    )
    return found or 0


def test_home_page_by_role(client: TestClient, db: Session) -> None:
    for role, home in (("admin", "/projects"), ("trainer", "/jobs"), ("annotator", "/rate")):
        client.cookies.clear()
        login(client, make_user(db, role=Role(role)).username)
        answer = client.get("/", follow_redirects=False)
        assert answer.headers["location"] == home, role


def test_new_project_form(client: TestClient, db: Session) -> None:
    _, token = _admin(client, db)
    page = client.get("/projects/new")
    assert "Labels per comparison" in page.text and ">Create</button>" in page.text
    form = {
        "csrf_token": token,
        "name": "",
        "guidelines": "Be <b>brief</b>.",
        "labels_per_comparison": "101",
    }
    bad = client.post("/projects", data=form)
    assert bad.status_code == 422
    # Each message sits under its own field, tied to it for screen readers.
    assert re.search(r'id="name-error">String should have at least 1 character', bad.text)
    assert re.search(
        r'id="labels_per_comparison-error">Input should be less than or equal to 100', bad.text
    )
    assert 'aria-describedby="labels_per_comparison-error labels_per_comparison-help"' in bad.text
    assert "Be &lt;b&gt;brief&lt;/b&gt;." in bad.text and 'value="101"' in bad.text
    preview = client.post(
        "/projects", data={**form, "action": "preview", "guidelines": "**hi** <script>x</script>"}
    )
    assert "<strong>hi</strong>" in preview.text and "<script>x" not in preview.text
    made = client.post(
        "/projects",
        data={**form, "name": "Forms project", "labels_per_comparison": "2"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    project = db.scalar(select(Project).where(Project.name == "Forms project"))
    assert project is not None and project.labels_per_comparison == 2
    assert made.headers["location"] == f"/projects/{project.id}?notice=created"
    again = client.post(
        "/projects", data={**form, "name": "Forms project", "labels_per_comparison": "1"}
    )
    assert again.status_code == 409 and "exists already" in again.text


def test_project_settings_form(client: TestClient, db: Session) -> None:
    _, token = _admin(client, db)
    project, other = make_project(db), make_project(db)
    foreign = ModelVersion(project_id=other.id, kind="reward", name="r", base_model="b", path="p")
    db.add(foreign)
    db.commit()
    page = client.get(f"/projects/{project.id}/edit")
    assert page.status_code == 200 and 'name="reward_version_id"' in page.text
    form = {
        "csrf_token": token,
        "name": project.name,
        "guidelines": "New rules.",
        "labels_per_comparison": "3",
    }
    wrong = client.post(
        f"/projects/{project.id}/edit", data={**form, "reward_version_id": str(foreign.id)}
    )
    assert wrong.status_code == 422 and "belongs to another project" in wrong.text
    saved = client.post(f"/projects/{project.id}/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303
    db.refresh(project)
    assert (project.guidelines, project.labels_per_comparison) == ("New rules.", 3)


def test_import_from_the_browser_is_all_or_nothing(client: TestClient, db: Session) -> None:
    _, token = _admin(client, db)
    project = make_project(db)
    db.commit()
    url = f"/projects/{project.id}/import"
    lines = [
        json.dumps({"prompt": f"p{i}", "response_a": "a", "response_b": "b"}) for i in range(3)
    ]
    bad_lines = lines + ["{oops"] * 150
    refused = client.post(
        url,
        data={"csrf_token": token, "format": "pairs"},
        files={"file": ("bad.jsonl", "\n".join(bad_lines).encode())},
    )
    assert refused.status_code == 422
    assert "150 bad lines (the first 100 below)" in refused.text
    assert (
        "Line 4:" in refused.text
        and "Line 103:" in refused.text
        and "Line 104:" not in refused.text
    )
    assert _count(db, project.id) == 0
    done = client.post(
        url,
        data={"csrf_token": token, "format": "pairs"},
        files={"file": ("ok.jsonl.gz", gzip.compress("\n".join(lines).encode()))},
    )
    assert done.status_code == 200 and "Imported 3" in done.text
    assert _count(db, project.id) == 3
    missing = client.post(url, data={"csrf_token": token, "format": "pairs"})
    assert missing.status_code == 422 and 'id="file-error">Choose a file' in missing.text
    broken = client.post(
        url,
        data={"csrf_token": token, "format": "pairs"},
        files={"file": ("x.gz", b"\x1f\x8bnot really gzip")},
    )
    assert broken.status_code == 422 and "not valid gzip" in broken.text


def test_file_over_the_import_limit_gets_a_clear_message(
    app: FastAPI, client: TestClient, db: Session, settings: Settings
) -> None:
    # The route's own check (the request limit in front of it is tested with the other
    # middleware in tests/reliability/test_csrf_forms.py).
    app.state.settings = settings.model_copy(update={"max_import_bytes": 2000})
    _, token = _admin(client, db)
    project = make_project(db)
    db.commit()
    line = json.dumps({"prompt": "p", "response_a": "a", "response_b": "b"}) + "\n"
    page = client.get(f"/projects/{project.id}")
    assert 'data-max-bytes="2000"' in page.text and "2.0 kB" in page.text
    answer = client.post(
        f"/projects/{project.id}/import",
        data={"csrf_token": token, "format": "pairs"},
        files={"file": ("big.jsonl", (line * 100).encode())},
    )
    assert answer.status_code == 413
    assert re.search(r'id="file-error">The file is over the import limit of 2.0 kB', answer.text)
    assert "RLHF_MAX_IMPORT_BYTES" in answer.text
    # A small file that decompresses past the limit is stopped too.
    bomb = gzip.compress(line.encode() * 500)
    assert len(bomb) < 2000
    inflated = client.post(
        f"/projects/{project.id}/import",
        data={"csrf_token": token, "format": "pairs"},
        files={"file": ("bomb.jsonl.gz", bomb)},
    )
    assert inflated.status_code == 413 and "over the import limit" in inflated.text
    assert _count(db, project.id) == 0


def test_export_form_hands_its_choices_to_the_api(client: TestClient, db: Session) -> None:
    _admin(client, db)
    project = make_project(db)
    db.commit()
    answer = client.get(
        f"/projects/{project.id}/export",
        params=[
            ("format", "jsonl"),
            ("schema", "trl"),
            ("since", ""),
            ("annotator", "ann, bob ,"),
            ("min_agreement", "0.5"),
            ("not_flag", "harmful"),
        ],
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        f"/api/v1/projects/{project.id}/export?format=jsonl&schema=trl&min_agreement=0.5"
        "&annotator=ann&annotator=bob&not_flag=harmful"
    )
    download = client.get(answer.headers["location"])
    assert download.status_code == 200 and download.headers["x-rows-written"] == "0"


def test_people_page(client: TestClient, db: Session) -> None:
    me, token = _admin(client, db)
    bad = client.post("/people", data={"csrf_token": token, "username": "a b", "role": "annotator"})
    assert (
        bad.status_code == 422 and 'id="username-error"' in bad.text and 'value="a b"' in bad.text
    )
    short = client.post(
        "/people",
        data={"csrf_token": token, "username": "pw", "role": "trainer", "password": "short"},
    )
    assert short.status_code == 422 and 'id="password-error"' in short.text
    made = client.post(
        "/people",
        data={"csrf_token": token, "username": "api-only", "role": "trainer", "password": ""},
        follow_redirects=False,
    )
    assert made.status_code == 303
    person = db.scalar(select(User).where(User.username == "api-only"))
    assert person is not None and person.role == "trainer" and person.password_hash is None
    taken = client.post(
        "/people", data={"csrf_token": token, "username": "api-only", "role": "trainer"}
    )
    assert taken.status_code == 409 and "is taken" in taken.text

    minted = client.post(f"/people/{person.id}/tokens", data={"csrf_token": token, "name": "ci"})
    plain = re.search(r'<code id="token-value">([^<]+)</code>', minted.text)
    assert minted.status_code == 201 and plain is not None
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain.group(1)}"}).status_code
        == 200
    )
    assert plain.group(1) not in client.get("/people").text
    stored = db.scalar(select(ApiToken).where(ApiToken.user_id == person.id))
    assert stored is not None and plain.group(1) not in stored.token_hash

    # The last active admin cannot demote or deactivate themselves.
    only_admins = db.scalars(
        select(User).where(User.role == "admin", User.is_active.is_(True))
    ).all()
    for other in only_admins:
        if other.id != me.id:
            other.is_active = False
    db.commit()
    refused = client.post(f"/people/{me.id}", data={"csrf_token": token, "role": "annotator"})
    assert refused.status_code == 409 and "last active admin" in refused.text
    db.refresh(me)
    assert me.role == "admin"
    off = client.post(
        f"/people/{person.id}",
        data={"csrf_token": token, "is_active": "false"},
        follow_redirects=False,
    )
    assert off.status_code == 303
    db.refresh(person)
    assert not person.is_active


def test_quality_dashboard_draws_its_charts(client: TestClient, db: Session) -> None:
    _admin(client, db)
    project = make_project(db, labels_per_comparison=2)
    raters = [make_user(db), make_user(db)]
    for i in range(6):
        comparison = make_comparison(db, project)
        for n, rater in enumerate(raters):
            choice = "better" if (i + n) % 3 else "same"
            make_label(
                db,
                comparison,
                annotator=rater,
                choice=choice,
                time_spent_ms=4000 + 1000 * i,
                shown_swapped=bool(n),
            )
    db.commit()
    page = client.get(f"/projects/{project.id}/quality")
    assert page.status_code == 200
    html = page.text
    for chart in ("chart-choices", "chart-position", "chart-alpha", "chart-time", "chart-per-day"):
        assert f'id="{chart}"' in html, chart
    assert (
        'aria-label="Choices (B compared with A): Better 8 (67%), Same 4 (33%), Worse 0 (0%)"'
        in html
    )
    assert "<script>" not in html and "style=" not in html  # CSP: no inline script or style
    assert raters[0].username in html
    empty = make_project(db)
    db.commit()
    assert "No data yet." in client.get(f"/projects/{empty.id}/quality").text


def test_models_page_lists_versions_under_their_parents(client: TestClient, db: Session) -> None:
    user = make_user(db, role=Role.trainer)
    project = make_project(db)
    base = ModelVersion(project_id=project.id, kind="policy", name="base", base_model="m", path="p")
    db.add(base)
    db.flush()
    child = ModelVersion(
        project_id=project.id,
        kind="policy",
        name="ppo-1",
        base_model="m",
        path="q",
        parent_id=base.id,
        metrics={"objective/scores": 0.51234, "eval/score_gain": 0.1},
    )
    db.add(child)
    db.commit()
    login(client, user.username)
    html = client.get(f"/models?project={project.id}").text
    assert html.index(f'id="version-{base.id}"') < html.index(f'id="version-{child.id}"')
    assert f'<a href="#version-{base.id}">#{base.id}</a>' in html and "0.5123" in html


def test_browser_import_skips_degenerate_hh_records_and_names_them(
    client: TestClient, db: Session
) -> None:
    _, token = _admin(client, db)
    project = make_project(db)
    db.commit()
    history = "\n\nHuman: hi\n\nAssistant: hello"
    records = [
        {"chosen": history, "rejected": "\n\nHuman: hi\n\nAssistant: go away"},
        {"chosen": history, "rejected": history + "\n\nHuman: thanks"},
    ]
    done = client.post(
        f"/projects/{project.id}/import",
        data={"csrf_token": token, "format": "hh"},
        files={"file": ("online.jsonl", "\n".join(json.dumps(r) for r in records).encode())},
    )
    assert done.status_code == 200 and "Imported 1" in done.text
    assert "1 skipped (1 extended transcript)" in done.text
    assert "Line 2 (extended transcript):" in done.text
    assert _count(db, project.id) == 1
