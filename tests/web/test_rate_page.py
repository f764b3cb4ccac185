"""The rating page in real Chromium against a real server; results checked in the database."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from app import rating
from app.models import Assignment, Comparison, Label, Project
from app.rating import screen_to_stored
from tests.factories import PASSWORD, make_comparison, make_project, make_prompt, make_user
from tests.live import DEMO_PASSWORD, LiveServer, unique

pytestmark = pytest.mark.browser


@dataclass
class Pair:
    comparison_id: int
    text_a: str
    text_b: str


@dataclass
class Setup:
    username: str
    user_id: int
    project_id: int
    pairs: list[Pair]


def seed(
    server: LiveServer,
    texts: list[tuple[str, str]],
    *,
    messages: list[dict[str, str]] | None = None,
) -> Setup:
    """A new annotator and a project whose pairs come in the order given (first = top)."""
    with server.session() as session:
        user = make_user(session, username=unique("rater"))
        project = make_project(session, name=unique("project "))
        pairs = []
        for rank, (a, b) in enumerate(texts):
            prompt_messages = messages or [
                {"role": "user", "content": f"Question {rank} of {project.name}?"}
            ]
            prompt = make_prompt(session, project, messages=prompt_messages)
            comparison = make_comparison(
                session, project, prompt=prompt, text_a=a, text_b=b, priority=len(texts) - rank
            )
            pairs.append(Pair(comparison.id, a, b))
        return Setup(user.username, user.id, project.id, pairs)


def sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/rate"))


def labels_of(server: LiveServer, user_id: int) -> list[Label]:
    with server.session() as session:
        return list(
            session.scalars(select(Label).where(Label.annotator_id == user_id).order_by(Label.id))
        )


def left_text(page: Any) -> str:
    text: str = page.get_by_role("region", name="Response A").inner_text()
    return text


def test_anonymous_visitor_is_sent_to_login(page: Any) -> None:
    page.goto("/rate")
    assert re.search(r"/login\?next=/rate$", page.url)
    assert page.get_by_role("button", name="Sign in").is_visible()


def test_demo_user_lands_on_a_pair_to_rate(page: Any) -> None:
    sign_in(page, "demo", DEMO_PASSWORD)
    assert page.url.endswith("/rate")
    assert page.get_by_role("heading", name="Response A").is_visible()
    assert page.get_by_role("heading", name="Response B").is_visible()
    assert page.get_by_role("region", name="Conversation").locator(".turn").count() >= 1
    assert page.get_by_role("radio", name="Better").is_visible()
    assert page.get_by_text("Guidelines").is_visible()


def test_rate_with_the_mouse_stores_everything_in_comparison_order(
    page: Any, live_server: LiveServer
) -> None:
    setup = seed(live_server, [(f"alpha {i} answer", f"beta {i} answer") for i in range(16)])
    # Put two pairs shown swapped and two shown in order at the head of this queue, so
    # both directions of the swap are checked (16 pairs all one way: 1 in 32768).
    by_swap: dict[bool, list[Pair]] = {True: [], False: []}
    for pair in setup.pairs:
        swapped = rating.shown_swapped(live_server.secret_key, setup.user_id, pair.comparison_id)
        by_swap[swapped].append(pair)
    chosen = [by_swap[True][0], by_swap[False][0], by_swap[True][1], by_swap[False][1]]
    with live_server.session() as session:
        for rank, pair in enumerate(chosen):
            comparison = session.get(Comparison, pair.comparison_id)
            assert comparison is not None
            comparison.priority = 100 - rank
    sign_in(page, setup.username)
    for pair in chosen:
        page.goto(f"/rate?project={setup.project_id}")
        shown_left = left_text(page)
        swapped = pair.text_b in shown_left
        assert swapped != (pair.text_a in shown_left)
        assert swapped == (pair in by_swap[True])
        page.get_by_role("radio", name="Better").check()
        page.get_by_role("radio", name="Much").check()
        page.get_by_label("Feedback").fill(f"feedback for {pair.comparison_id}")
        page.get_by_role("checkbox", name="Untrue").check()
        page.get_by_role("checkbox", name="Harmful or unsafe").check()
        page.get_by_role("button", name="Submit").click()
        page.wait_for_url(re.compile(r"notice=saved"))
        label = labels_of(live_server, setup.user_id)[-1]
        assert label.comparison_id == pair.comparison_id
        # "B (on screen) is better": stored against the comparison's own A and B.
        assert label.choice == ("worse" if swapped else "better")
        assert label.shown_swapped == swapped
        assert label.strength == "much"
        assert label.feedback == f"feedback for {pair.comparison_id}"
        assert (label.flag_untrue, label.flag_harmful, label.flag_unhelpful) == (True, True, False)
        assert label.time_spent_ms is not None and label.time_spent_ms >= 0
    assert len(labels_of(live_server, setup.user_id)) == 4


def test_rate_with_the_keyboard(page: Any, live_server: LiveServer) -> None:
    setup = seed(live_server, [("first left", "first right"), ("second left", "second right")])
    sign_in(page, setup.username)
    page.goto(f"/rate?project={setup.project_id}")
    shortcuts = page.locator("#shortcuts").inner_text()
    for hint in ("1", "Better", "2", "Worse", "3", "Same", "Enter", "Submit", "K", "Skip"):
        assert hint in shortcuts
    # Keys typed into Feedback are text, not shortcuts.
    page.get_by_label("Feedback").fill("")
    page.get_by_label("Feedback").press_sequentially("3 k 1")
    assert not page.get_by_role("radio", name="Same").is_checked()
    assert page.url.endswith(f"project={setup.project_id}")
    page.keyboard.press("Escape")
    page.keyboard.press("2")
    assert page.get_by_role("radio", name="Worse").is_checked()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"notice=saved"))
    first = setup.pairs[0]
    [label] = labels_of(live_server, setup.user_id)
    swapped = rating.shown_swapped(live_server.secret_key, setup.user_id, first.comparison_id)
    assert label.comparison_id == first.comparison_id
    assert label.choice == screen_to_stored("worse", swapped)
    assert label.feedback == "3 k 1"
    page.keyboard.press("k")
    page.wait_for_url(re.compile(r"notice=skipped"))
    with live_server.session() as session:
        status = session.scalar(
            select(Assignment.status).where(
                Assignment.comparison_id == setup.pairs[1].comparison_id,
                Assignment.user_id == setup.user_id,
            )
        )
    assert status == "skipped"


def test_skip_stores_no_label_and_moves_on(page: Any, live_server: LiveServer) -> None:
    setup = seed(live_server, [("skip me A", "skip me B"), ("keep me A", "keep me B")])
    sign_in(page, setup.username)
    page.goto(f"/rate?project={setup.project_id}")
    assert "skip me" in left_text(page)
    page.get_by_role("button", name="Skip").click()
    page.wait_for_url(re.compile(r"notice=skipped"))
    assert "keep me" in left_text(page)
    assert labels_of(live_server, setup.user_id) == []


def test_empty_queue_says_nothing_left(page: Any, live_server: LiveServer) -> None:
    setup = seed(live_server, [("only A", "only B")])
    sign_in(page, setup.username)
    page.goto(f"/rate?project={setup.project_id}")
    # A strength left from an earlier choice is cleared with Same (the server refuses both).
    page.get_by_role("radio", name="Much").check()
    page.get_by_role("radio", name="Same").check()
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r"notice=saved"))
    assert page.get_by_role("heading", name="Nothing left to rate").is_visible()
    [label] = labels_of(live_server, setup.user_id)
    assert (label.choice, label.strength) == ("same", None)


def test_double_submit_makes_one_label(page: Any, live_server: LiveServer) -> None:
    setup = seed(live_server, [("dbl A", "dbl B"), ("next A", "next B")])
    sign_in(page, setup.username)
    page.goto(f"/rate?project={setup.project_id}")
    form = {
        name: page.locator(f'#rating-form input[name="{name}"]').input_value()
        for name in ("csrf_token", "comparison_id", "project_id", "idempotency_key", "rendered_at")
    }
    page.get_by_role("radio", name="Better").check()
    page.get_by_role("button", name="Submit").dblclick()
    page.wait_for_url(re.compile(r"notice=saved"))
    # A retry of the very same form (the browser's resend, a flaky network) is acknowledged.
    retry = page.request.post(
        "/rate", form={**form, "choice": "worse", "action": "submit"}, max_redirects=0
    )
    assert retry.status == 303
    labels = labels_of(live_server, setup.user_id)
    assert len(labels) == 1
    assert labels[0].idempotency_key == form["idempotency_key"]
    assert labels[0].comparison_id == int(form["comparison_id"])


def test_hostile_response_is_shown_as_text_and_runs_nothing(
    page: Any, live_server: LiveServer
) -> None:
    hostile = (
        "<script>window.__pwned = 'script'</script>\n\n"
        "<img src=x onerror=\"window.__pwned = 'img'\">\n\n"
        "[click me](javascript:window.__pwned='link')\n\n"
        "[ref link][r]\n\n[r]: javascript:window.__pwned='ref'\n\n"
        '![pixel](http://127.0.0.1:1/pixel.png "t")\n\n'
        "<a href=\"javascript:window.__pwned='a'\">raw anchor</a>\n\n"
        '<div style="position:fixed;inset:0;background:red">overlay</div>\n\n'
        "```\n<script>window.__pwned='code'</script>\n```"
    )
    setup = seed(
        live_server,
        [(hostile, "A plain answer.")],
        messages=[
            {"role": "system", "content": "<script>window.__pwned='system'</script>"},
            {"role": "user", "content": "Say something <b>bold</b>"},
        ],
    )
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, setup.username)
    page.goto(f"/rate?project={setup.project_id}")
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    responses = page.locator(".responses")
    assert responses.locator("script, img, a, iframe, [style], [onerror]").count() == 0
    assert page.locator(".conversation script, .conversation b").count() == 0
    text = responses.inner_text()
    assert "<script>window.__pwned = 'script'</script>" in text
    assert "<img src=x onerror" in text
    assert "click me" in text
    assert "<b>bold</b>" in page.locator(".conversation").inner_text()
    # Clicking the inert link text goes nowhere.
    page.get_by_text("click me").click()
    assert page.evaluate("window.__pwned") is None
    assert f"project={setup.project_id}" in page.url


def test_csrf_is_enforced_on_the_form(page: Any, live_server: LiveServer) -> None:
    setup = seed(live_server, [("csrf A", "csrf B")])
    sign_in(page, setup.username)
    page.goto(f"/rate?project={setup.project_id}")
    fields = {
        "comparison_id": str(setup.pairs[0].comparison_id),
        "project_id": str(setup.project_id),
        "idempotency_key": "forged-request-0001",
        "choice": "better",
    }
    for token in (None, "forged"):
        form = fields if token is None else {**fields, "csrf_token": token}
        response = page.request.post("/rate", form=form, max_redirects=0)
        assert response.status == 403
    assert labels_of(live_server, setup.user_id) == []


def test_page_works_without_javascript(browser: Any, live_server: LiveServer) -> None:
    setup = seed(live_server, [("nojs A", "nojs B")])
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, setup.username)
        page.goto(f"/rate?project={setup.project_id}")
        page.get_by_role("radio", name="Same").check()
        page.get_by_role("button", name="Submit").click()
        page.wait_for_url(re.compile(r"notice=saved"))
        assert page.get_by_role("heading", name="Nothing left to rate").is_visible()
    finally:
        context.close()
    assert len(labels_of(live_server, setup.user_id)) == 1


def test_responses_sit_side_by_side_when_wide_and_stack_when_narrow(
    page: Any, live_server: LiveServer
) -> None:
    setup = seed(live_server, [("wide A", "wide B")])
    sign_in(page, setup.username)
    page.goto(f"/rate?project={setup.project_id}")
    a = page.get_by_role("region", name="Response A").bounding_box()
    b = page.get_by_role("region", name="Response B").bounding_box()
    assert b["x"] > a["x"] + a["width"] - 1 and abs(a["y"] - b["y"]) < 2
    page.set_viewport_size({"width": 420, "height": 900})
    a = page.get_by_role("region", name="Response A").bounding_box()
    b = page.get_by_role("region", name="Response B").bounding_box()
    assert b["y"] >= a["y"] + a["height"] - 1


def test_progress_counts_today_and_left(page: Any, live_server: LiveServer) -> None:
    setup = seed(live_server, [("p1 A", "p1 B"), ("p2 A", "p2 B"), ("p3 A", "p3 B")])
    sign_in(page, setup.username)
    page.goto(f"/rate?project={setup.project_id}")
    assert page.locator("#labels-today").inner_text() == "0"
    assert page.locator("#comparisons-left").inner_text() == "3"
    page.get_by_role("radio", name="Better").check()
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r"notice=saved"))
    assert page.locator("#labels-today").inner_text() == "1"
    assert page.locator("#comparisons-left").inner_text() == "2"
    with live_server.session() as session:
        count = session.scalar(
            select(func.count()).select_from(Label).where(Label.annotator_id == setup.user_id)
        )
    assert count == 1


def test_annotator_with_several_projects_can_pick_one(page: Any, live_server: LiveServer) -> None:
    setup = seed(live_server, [("pick A", "pick B")])
    sign_in(page, setup.username)
    # The first project with work is the demo one; ours is offered beside it.
    assert page.get_by_role("heading", name="Demo").is_visible()
    with live_server.session() as session:
        project = session.get(Project, setup.project_id)
        assert project is not None
        name = project.name
    page.get_by_role("navigation", name="Projects").get_by_role("link", name=name).click()
    page.wait_for_url(re.compile(rf"project={setup.project_id}$"))
    assert "pick A" in left_text(page) or "pick B" in left_text(page)
    assert page.get_by_role("heading", name=name).is_visible()
