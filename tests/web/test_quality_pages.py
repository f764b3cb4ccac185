"""A suspended annotator, in real Chromium and through the real server's API (on PostgreSQL
that is the fast lane and `rlhf_take_next`)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.models import AnnotatorStatus
from app.queries import quality as quality_queries
from tests.factories import make_comparison, make_project, make_token, make_user
from tests.live import LiveServer, unique
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
