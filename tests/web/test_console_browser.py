"""The console in real Chromium, one test per role, checks grouped by page visit: what each
role sees in the navigation and may open, the forms end to end (checked in the database),
axe-core on every page, a visible keyboard focus, dark mode and phone width; and the API
docs with no request leaving the server."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import ApiToken, Comparison, Job, Role, User
from tests.factories import PASSWORD, make_project, make_user
from tests.live import LiveServer, unique
from tests.web.a11y import assert_accessible, assert_focus_visible

pytestmark = pytest.mark.browser


def sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("domcontentloaded")


def nav_links(page: Any) -> list[str]:
    names: list[str] = (
        page.get_by_role("navigation", name="Main").get_by_role("link").all_inner_texts()
    )
    return names


def comparisons_in(server: LiveServer, project_id: int) -> int:
    with server.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Comparison)
                .where(Comparison.project_id == project_id)
            )
            or 0
        )


def test_admin_works_in_the_console(page: Any, live_server: LiveServer, tmp_path: Path) -> None:
    with live_server.session() as session:
        admin = make_user(session, username=unique("admin"), role=Role.admin).username
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    sign_in(page, admin)
    assert page.url.endswith("/projects")
    assert nav_links(page) == ["Projects", "People", "Jobs", "Models", "Rate", "API docs"]
    assert_accessible(page, "/projects")
    assert_focus_visible(page, "/projects")

    # A new project: an error is shown next to its field and what was typed stays.
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Guidelines").fill("Prefer **short** answers.")
    page.get_by_label("Labels per comparison").fill("0")
    page.get_by_role("button", name="Create").click()
    assert page.locator("#labels_per_comparison-error").inner_text().startswith("Input should be")
    assert page.get_by_label("Guidelines").input_value() == "Prefer **short** answers."
    assert_accessible(page, "the new-project form with errors")
    name = unique("Console project ")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Labels per comparison").fill("2")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/projects/\d+\?notice=created$"))
    project_id = int(page.url.split("/projects/")[1].split("?")[0])
    assert page.get_by_role("heading", name=name).is_visible()
    assert_accessible(page, "a project's page")

    # Import: a good file, with one degenerate line imported as skipped.
    good = tmp_path / "good.jsonl"
    rows = [{"prompt": f"Q{i}?", "response_a": f"a{i}", "response_b": f"b{i}"} for i in range(3)]
    rows.append({"prompt": "Same?", "response_a": "same", "response_b": "same"})
    good.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    page.get_by_label("Format").select_option("pairs")
    page.get_by_label("File").set_input_files(str(good))
    page.get_by_role("button", name="Import").click()
    result = page.locator("#import-result")
    result.wait_for()
    assert "Imported 3" in result.inner_text() and "1 skipped" in result.inner_text()
    assert comparisons_in(live_server, project_id) == 3
    # A bad file is refused whole; its page names each bad line.
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"prompt": "ok", "response_a": "x", "response_b": "y"}\nnot json\n{"prompt": 1}\n'
    )
    page.get_by_label("File").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    refused = page.locator("#import-refused")
    refused.wait_for()
    assert "nothing was imported" in refused.inner_text()
    assert "Line 2:" in refused.inner_text() and "Line 3:" in refused.inner_text()
    assert comparisons_in(live_server, project_id) == 3
    assert_accessible(page, "a refused import")
    # A gzipped trl file with human choices.
    trl = tmp_path / "prefs.jsonl.gz"
    lines = [{"prompt": f"T{i}?", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(2)]
    trl.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in lines).encode()))
    page.get_by_label("Format").select_option("trl")
    page.get_by_label("File").set_input_files(str(trl))
    page.get_by_role("button", name="Import").click()
    page.locator("#import-result", has_text="Imported 2").wait_for()
    assert comparisons_in(live_server, project_id) == 5
    # A file over the limit is refused before it is sent, with the reason beside the field.
    page.locator("#import-form").evaluate("f => { f.dataset.maxBytes = '10'; }")
    page.get_by_label("File").set_input_files(str(good))
    assert "over the import limit of 10 bytes" in page.locator("#file-error").inner_text()

    # Export: the labels of the trl import, as a streamed download.
    page.get_by_label("Schema").select_option("trl")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export").click()
    exported = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
    assert len(exported) == 2 and {"prompt", "chosen", "rejected"} <= exported[0].keys()

    # Settings: the guidelines preview shows the Markdown rendered, nothing saved yet.
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Guidelines").fill("# Rules\n\nBe **kind**.")
    page.get_by_role("button", name="Preview guidelines").click()
    assert page.get_by_role("region", name="Preview").locator("strong").inner_text() == "kind"
    assert_accessible(page, "the settings form with a preview")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"\?notice=saved$"))

    page.goto(f"/projects/{project_id}/quality")
    # Imported labels only: choices and labels per day; the human-only charts say so.
    assert page.locator("svg.chart").count() == 2
    assert page.get_by_text("No data yet.").count() == 3
    assert page.get_by_role("heading", name="Annotators").is_visible()
    assert_accessible(page, "the quality dashboard")

    # People: a person with a bad username is refused next to the field, then created.
    page.goto("/people")
    assert_accessible(page, "/people")
    page.get_by_label("Username").fill("no spaces allowed")
    page.get_by_role("button", name="Add person").click()
    assert page.locator("#username-error").is_visible()
    assert page.get_by_label("Username").input_value() == "no spaces allowed"
    person = unique("person")
    page.get_by_label("Username").fill(person)
    page.get_by_label("Role", exact=True).select_option("trainer")
    page.get_by_label("Password").fill("a long password")
    page.get_by_role("button", name="Add person").click()
    row = page.locator("tr", has=page.get_by_role("rowheader", name=person))
    row.get_by_role("button", name="Create token").click()
    token = page.locator("#token-value").inner_text()
    me = page.request.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200 and me.json()["username"] == person
    page.goto("/people")
    assert token not in page.content()  # shown once
    row = page.locator("tr", has=page.get_by_role("rowheader", name=person))
    row.get_by_role("button", name="Revoke").click()
    gone = page.request.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert gone.status == 401
    with live_server.session() as session:
        user = session.scalar(select(User).where(User.username == person))
        assert user is not None and user.role == "trainer"
        assert session.scalar(select(ApiToken.revoked_at).where(ApiToken.user_id == user.id))

    page.goto("/models")
    assert_accessible(page, "/models")

    # Dark mode and phone width: still clean, nothing wider than the screen.
    page.emulate_media(color_scheme="dark")
    page.goto(f"/projects/{project_id}/quality")
    assert_accessible(page, "the quality dashboard in dark mode")
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (f"/projects/{project_id}", "/people", "/projects"):
        page.goto(path)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 392, f"{path} is {wide}px wide at phone width"
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_trainer_starts_and_cancels_a_job_from_typed_fields(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.session() as session:
        trainer = make_user(session, username=unique("trainer"), role=Role.trainer).username
        project = make_project(session, name=unique("Jobs project "))
        project_id = project.id
    sign_in(page, trainer)
    assert page.url.endswith("/jobs")
    assert nav_links(page) == ["Jobs", "Models", "API docs"]
    assert_accessible(page, "/jobs")
    assert_focus_visible(page, "/jobs")

    page.get_by_label("Project").select_option(str(project_id))
    # Each kind shows its own fields: PPO's, then back to reward's Epochs.
    page.get_by_label("Kind").select_option("ppo")
    assert page.get_by_label("Total steps").is_visible()
    assert page.get_by_label("Epochs", exact=True).count() == 0
    page.get_by_label("Kind").select_option("reward")
    epochs = page.get_by_role("spinbutton", name="Epochs", exact=True)
    assert epochs.input_value() == "2"
    epochs.fill("3")
    page.get_by_role("button", name="Start job").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])
    with live_server.session() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.kind == "reward" and job.params["epochs"] == 3
        assert job.params["batch_size"] == 16
    assert page.get_by_text("Training loss").is_visible()
    assert_accessible(page, "a job's page")
    page.get_by_role("button", name="Cancel job").click()
    page.locator("#job-status", has_text="cancelled").wait_for()

    page.goto("/models")
    assert_accessible(page, "/models as a trainer")
    for path in ("/projects", "/people", f"/projects/{project_id}/quality"):
        answer = page.goto(path)
        assert answer.status == 403, path
        assert page.get_by_role("heading", name="Error 403").is_visible()


def test_annotator_sees_only_the_rating_page(page: Any, live_server: LiveServer) -> None:
    with live_server.session() as session:
        annotator = make_user(session, username=unique("rater")).username
    page.goto("/login")
    assert_accessible(page, "/login")
    sign_in(page, annotator)
    assert page.url.endswith("/rate")
    assert nav_links(page) == ["Rate"]
    # The demo project's guidelines are long enough to scroll: the region takes focus.
    assert_accessible(page, "/rate")
    assert_focus_visible(page, "/rate", presses=4)
    for path in ("/projects", "/jobs", "/people", "/models"):
        answer = page.goto(path)
        assert answer.status == 403, path
    assert_accessible(page, "the 403 page")


def test_api_docs_load_nothing_from_outside(page: Any, live_server: LiveServer) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/docs")
    # Swagger UI parses a 1.4 MB bundle and the whole schema: slow on a busy machine.
    page.locator(".opblock").first.wait_for(timeout=30_000)
    assert page.locator(".opblock-summary-path", has_text="/api/v1/jobs").count() >= 1
    page.goto("/redoc")
    page.get_by_text("RLHF Studio", exact=False).first.wait_for(timeout=30_000)
    page.locator("[role=menuitem], li[data-item-id]").first.wait_for(timeout=30_000)
    outside = [u for u in requested if not u.startswith((live_server.url, "data:", "blob:"))]
    assert not outside, outside
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
