"""Suspension in real Chromium: a suspended annotator's page and the real server's API (on
PostgreSQL that is the fast lane and `rlhf_take_next`), and the quality dashboard's Suspend
and Reinstate."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.models import AnnotatorStatus, Project, Role
from app.queries import quality as quality_queries
from tests.factories import make_comparison, make_label, make_project, make_token, make_user
from tests.live import LiveServer, unique
from tests.web.a11y import assert_accessible
from tests.web.test_console_browser import sign_in as console_sign_in
from tests.web.test_rate_page import sign_in

pytestmark = pytest.mark.browser


def test_a_suspended_annotator_gets_no_pairs_and_a_page_that_says_so(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.session() as session:
        user = make_user(session, username=unique("suspended"))
        _, token = make_token(session, user)
        project = make_project(session, name=unique("quality "), gold_rate=0.5)
        for _ in range(3):
            make_comparison(session, project)
        gold = make_comparison(session, project)
        gold.gold_choice = "same"
        project_id, username = project.id, user.username
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{live_server.url}/api/v1/projects/{project_id}/next"
    assert httpx.get(url, headers=headers).status_code == 200

    sign_in(page, username)
    page.goto(f"/rate?project={project_id}")
    assert page.get_by_role("heading", name="Response A").is_visible()

    with live_server.session() as session:
        quality_queries.set_status(
            session,
            project_id,
            user.id,
            AnnotatorStatus.suspended,
            reasons=["suspended by test"],
            actor="admin:test",
            manual=True,
        )
    page.goto(f"/rate?project={project_id}")
    assert page.get_by_role("heading", name="Suspended from this project").is_visible()
    assert page.get_by_text(re.compile("no more pairs of it for you")).is_visible()
    assert page.get_by_role("radio", name="Better").count() == 0
    refused = httpx.get(url, headers=headers)
    assert refused.status_code == 403 and "suspended" in refused.json()["detail"]


def test_an_admin_suspends_and_reinstates_an_annotator_from_the_dashboard(
    page: Any, browser: Any, live_server: LiveServer
) -> None:
    with live_server.session() as session:
        admin = make_user(session, username=unique("qadmin"), role=Role.admin)
        rater = make_user(session, username=unique("qrater"))
        other = make_user(session, username=unique("qother"))
        project = make_project(session, name=unique("dashboard "))
        pairs = [make_comparison(session, project) for _ in range(8)]
        for pair in pairs[:2]:
            make_label(session, pair, annotator=rater, choice="better", time_spent_ms=9000)
        make_label(session, pairs[2], annotator=other, choice="worse", time_spent_ms=7000)
        project_id, admin_name, rater_id = project.id, admin.username, rater.id
        rater_name, other_id = rater.username, other.id
    dashboard = f"/projects/{project_id}/quality"

    console_sign_in(page, admin_name)
    page.goto(dashboard)
    row = page.locator(f"#annotator-{rater_id}")
    assert row.get_by_role("rowheader").inner_text() == rater_name
    assert page.locator(f"#status-{rater_id}").inner_text() == "ok"
    assert row.locator("td").first.inner_text() == "2"
    assert page.locator(f"#annotator-{other_id}").is_visible()
    assert row.get_by_role("button", name=f"Reinstate {rater_name}").count() == 0
    assert_accessible(page, "the quality dashboard")

    # No reason: refused beside the field, nothing changed.
    page.get_by_role("button", name=f"Suspend {rater_name}").click()
    error = page.locator(f"#reason-{rater_id}-error")
    assert error.is_visible() and "at least 1 character" in error.inner_text()
    assert page.locator(f"#status-{rater_id}").inner_text() == "ok"
    assert_accessible(page, "the dashboard with a refused form")

    reason = "careless <b>clicking</b> & copy-paste"
    page.get_by_label(f"Reason for {rater_name}").fill(reason)
    page.get_by_role("button", name=f"Suspend {rater_name}").click()
    page.wait_for_url(re.compile(r"done=suspended"))
    assert (
        page.get_by_role("status").inner_text() == f"{rater_name} is suspended from this project."
    )
    assert page.locator(f"#status-{rater_id}").inner_text() == "suspended"
    row = page.locator(f"#annotator-{rater_id}")
    assert f"suspended by {admin_name}: {reason}" in row.inner_text()
    assert row.locator("b").count() == 0  # the reason is text, never markup
    history = page.locator(f"#history-{rater_id}")
    assert f"admin:{admin_name}" in history.inner_text() and reason in history.inner_text()
    assert history.locator("b").count() == 0
    with live_server.session() as session:
        assert quality_queries.is_suspended(session, project_id, rater_id)
        *_, event = quality_queries.status_history(session, project_id, rater_id)
        assert (event.new_status, event.actor, event.reason) == (
            "suspended",
            f"admin:{admin_name}",
            reason,
        )

    rater_context = browser.new_context(base_url=live_server.url)
    rater_context.set_default_timeout(10_000)
    rater_page = rater_context.new_page()
    try:
        sign_in(rater_page, rater_name)
        rater_page.goto(f"/rate?project={project_id}")
        assert rater_page.get_by_role("heading", name="Suspended from this project").is_visible()
        assert rater_page.get_by_role("radio", name="Better").count() == 0

        page.get_by_label(f"Reason for {rater_name}").fill("talked it through")
        page.get_by_role("button", name=f"Reinstate {rater_name}").click()
        page.wait_for_url(re.compile(r"done=reinstated"))
        assert page.locator(f"#status-{rater_id}").inner_text() == "ok"
        history_rows = page.locator(f"#history-{rater_id}").locator("tbody tr")
        assert history_rows.count() == 3  # ok, suspended, ok
        assert_accessible(page, "the dashboard after a reinstatement")
        page.emulate_media(color_scheme="dark")
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        assert_accessible(page, "the dashboard in dark mode at phone width")
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 392, f"the dashboard is {wide}px wide at phone width"

        rater_page.goto(f"/rate?project={project_id}")
        assert rater_page.get_by_role("heading", name="Response A").is_visible()
        assert rater_page.get_by_role("heading", name="Suspended from this project").count() == 0
    finally:
        rater_context.close()


def test_only_admins_change_statuses_and_forms_need_csrf(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.session() as session:
        trainer = make_user(session, username=unique("qtrainer"), role=Role.trainer)
        rater = make_user(session, username=unique("qvictim"))
        project = make_project(session, name=unique("csrf "))
        make_label(session, make_comparison(session, project), annotator=rater)
        project_id, rater_id, trainer_name = project.id, rater.id, trainer.username
    console_sign_in(page, trainer_name)
    assert page.goto(f"/projects/{project_id}/quality").status == 403
    response = page.request.post(
        f"/projects/{project_id}/quality/annotators/{rater_id}/suspend",
        form={"reason": "no", "csrf_token": "forged"},
    )
    assert response.status == 403
    with live_server.session() as session:
        assert not quality_queries.is_suspended(session, project_id, rater_id)


def test_the_settings_form_quality_fields_in_chromium(page: Any, live_server: LiveServer) -> None:
    with live_server.session() as session:
        admin = make_user(session, username=unique("qsettings"), role=Role.admin)
        project = make_project(session, name=unique("thresholds "), quality_thresholds={})
        project_id, admin_name = project.id, admin.username
    console_sign_in(page, admin_name)
    page.goto(f"/projects/{project_id}/edit")
    page.get_by_label("Gold rate").fill("2")
    page.get_by_text("Automatic flagging thresholds").click()
    page.get_by_label("Side share flag").fill("0.1")
    page.get_by_role("button", name="Save").click()
    assert page.locator("#gold_rate-error").is_visible()
    assert page.locator("#param-quality-thresholds-side-share-flag-error").is_visible()
    assert page.get_by_label("Side share flag").input_value() == "0.1"
    assert_accessible(page, "the settings form with quality errors")
    page.get_by_label("Gold rate").fill("0.25")
    page.get_by_label("Side share flag").fill("0.85")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"notice=saved"))
    with live_server.session() as session:
        saved = session.get(Project, project_id)
        assert saved is not None and saved.gold_rate == 0.25
        assert saved.quality_thresholds == {"side_share_flag": 0.85}
