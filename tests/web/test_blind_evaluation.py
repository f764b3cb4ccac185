"""Evaluation pairs are blind: no annotator ever sees which model wrote which response, in the
page's text, its HTML source, or the annotator API (real Chromium against a real server)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.models import Project
from tests.evaluation.seed import make_battle, make_version
from tests.factories import PASSWORD, make_project, make_token, make_user
from tests.live import LiveServer, unique

pytestmark = pytest.mark.browser

SECRET_NAMES = ("secret-policy-alpha", "secret-policy-beta", "secret-imported-gamma")


def test_evaluation_pairs_never_name_their_models(page: Any, live_server: LiveServer) -> None:
    with live_server.session() as session:
        project = make_project(session, name=unique("blind "))
        alpha = make_version(session, project, name=SECRET_NAMES[0])
        beta = make_version(session, project, name=SECRET_NAMES[1], parent=alpha)
        first = make_battle(session, project, a=alpha, b=beta, choices=[])
        second = make_battle(session, project, a=SECRET_NAMES[2], b=beta, choices=[])
        user = make_user(session, username=unique("blindrater"))
        _, token = make_token(session, user)
        project_id, username = project.id, user.username
        ids = {str(alpha.id), str(beta.id)}
        pairs = {first.id, second.id}
        session.get_one(Project, project.id).labels_per_comparison = 1

    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/rate"))
    seen = set()
    for _ in range(2):
        page.goto(f"/rate?project={project_id}")
        html, text = page.content(), page.locator("body").inner_text()
        comparison_id = int(page.locator("input[name=comparison_id]").input_value())
        seen.add(comparison_id)
        assert "Answer a" in text and "Answer b" in text
        for name in SECRET_NAMES:
            assert name not in html and name not in text
        # Nothing on the page says where a response came from.
        for word in ("model_version", "policy_version", "model_name", "evaluate:job", "secret"):
            assert word not in html.lower()
        page.get_by_role("button", name="Skip").click()
        page.wait_for_url(re.compile(r"notice=skipped"))
    assert seen == pairs

    # The annotator API answers with texts only.
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=live_server.url, headers=headers) as client:
        again = make_battle_for_api(live_server, project_id)
        body = client.get(f"/api/v1/projects/{project_id}/next").text
        assert str(again) in body
        for name in SECRET_NAMES:
            assert name not in body
        assert "model" not in body.lower() and not any(f'"{i}"' in body for i in ids)


def make_battle_for_api(server: LiveServer, project_id: int) -> int:
    with server.session() as session:
        project = session.get_one(Project, project_id)
        alpha = make_version(session, project, name=SECRET_NAMES[0])
        return make_battle(session, project, a=alpha, b=SECRET_NAMES[2], choices=[]).id
