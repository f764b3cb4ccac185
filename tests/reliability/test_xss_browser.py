"""XSS payloads in every place users type text, rendered inert on every page in real Chromium.

Payloads go into project names, guidelines, prompts (every role), responses, feedback,
usernames, job errors and parameters, model version names, metric names and sample
generations, and the login form's echo. Each page is loaded as a signed-in user and must
show no sign that a payload ran: `window.__xss` unset, the title untouched, no dialog, no
request to the beacon server the payloads point at, and no element or attribute a payload
could have smuggled in (event handlers, javascript: URLs, foreign scripts, frames, forms).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.models import JobMetric, ModelVersion, Role
from app.queries import jobs as job_queries
from tests.factories import (
    PASSWORD,
    make_comparison,
    make_label,
    make_project,
    make_prompt,
    make_user,
)
from tests.live import LiveServer, unique

pytestmark = pytest.mark.browser

# {B} is the beacon's origin: any request that reaches it means a payload got the browser
# to load something of its choosing.
PAYLOADS = [
    "<script>window.__xss=1</script>",
    "<script src={B}/script.js></script>",
    "<img src=x onerror=window.__xss=1>",
    '<img src="{B}/img.png">',
    "<svg onload=window.__xss=1>",
    "<svg><script>window.__xss=1</script></svg>",
    '"><script>window.__xss=1</script>',
    "'><img src=x onerror=window.__xss=1>",
    '" onmouseover="window.__xss=1" x="',
    "</textarea><script>window.__xss=1</script>",
    "</title><script>window.__xss=1</script>",
    "</pre><img src=x onerror=window.__xss=1>",
    "<iframe src=javascript:window.__xss=1></iframe>",
    '<iframe src="{B}/frame"></iframe>',
    "<details open ontoggle=window.__xss=1>x</details>",
    "<body onload=window.__xss=1>",
    "<input autofocus onfocus=window.__xss=1>",
    "<video><source onerror=window.__xss=1></video>",
    "<object data=javascript:window.__xss=1></object>",
    "<embed src={B}/embed>",
    '<a href="javascript:window.__xss=1">click</a>',
    "[click](javascript:window.__xss=1)",
    "[click]({B}/md-link)",
    "![img]({B}/md-image.png)",
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=1">',
    '<base href="{B}/">',
    '<link rel=stylesheet href="{B}/style.css">',
    "<style>@import '{B}/import.css';</style>",
    '<div style="background:url({B}/bg.png)">bg</div>',
    '<form action="{B}/form"><button>go</button></form>',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    "&lt;script&gt;window.__xss=1&lt;/script&gt;",
    "<img src=x onerror=\"document.title='pwned'\">",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "{{7*7}} {% raw %}${7*7}",
    "\u2028<script>window.__xss=1</script>\u2029",
]
# Short enough for a username (64 characters, and the API's own rules are bypassed here).
USERNAME_PAYLOADS = [
    "<img src=x onerror=window.__xss=1>",
    '"><svg onload=window.__xss=1>',
    "<script>window.__xss=1</script>",
]
# Whatever a payload could have added to the DOM: event handlers, script URLs, links to the
# beacon, scripts not served by the app, frames, foreign forms.
DOM_CHECK = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = (attr.value || '').trim().toLowerCase();
      if (name.startsWith('on')) bad.push(el.tagName + ' ' + name);
      if (['href', 'src', 'action', 'formaction', 'data', 'xlink:href'].includes(name)
          && (value.startsWith('javascript:') || value.startsWith('data:text/html')
              || value.includes('127.0.0.1:' + BEACON_PORT))) bad.push(el.tagName + ' ' + name + '=' + value);
      if (name === 'style' && value.includes('url(')) bad.push(el.tagName + ' style');
    }
  }
  for (const s of document.querySelectorAll('script')) {
    if (!s.src || new URL(s.src).origin !== location.origin) bad.push('script ' + (s.src || 'inline'));
  }
  for (const tag of ['iframe', 'object', 'embed', 'base', 'meta[http-equiv]', 'svg script', 'math', 'style']) {
    if (document.querySelector(tag)) bad.push(tag);
  }
  for (const f of document.querySelectorAll('form')) {
    if (new URL(f.action, location.href).origin !== location.origin) bad.push('form ' + f.action);
  }
  return bad;
}"""


class Beacon:
    """An HTTP server payloads point at; it counts every request it gets."""

    def __init__(self) -> None:
        hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *_args: Any) -> None:
                pass

        self.hits = hits
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def beacon() -> Iterator[Beacon]:
    listener = Beacon()
    yield listener
    listener.close()


@dataclass
class Planted:
    project_id: int
    job_id: int
    annotators: list[str]
    trainer: str
    payloads: list[str]


def _plant(server: LiveServer, beacon: Beacon) -> Planted:
    origin = f"http://127.0.0.1:{beacon.port}"
    payloads = [p.replace("{B}", origin) for p in PAYLOADS]
    everything = "\n\n".join(payloads)
    with server.session() as session:
        project = make_project(
            session,
            name=(unique("x") + payloads[2])[:200],
            guidelines=everything,
            labels_per_comparison=10,
        )
        messages = [
            {"role": "system", "content": everything},
            {"role": "user", "content": everything},
            {"role": "assistant", "content": everything},
            {"role": "user", "content": "Which is safer?"},
        ]
        prompt = make_prompt(session, project, messages=messages)
        comparison = make_comparison(
            session, project, prompt=prompt, text_a=everything, text_b=everything + " (B)"
        )
        feedback_author = make_user(session, username=unique("fb"), password=None)
        make_label(session, comparison, annotator=feedback_author, feedback=everything)
        annotators = []
        for payload in USERNAME_PAYLOADS:
            name = (unique("u") + payload)[:64]
            make_user(session, username=name, role=Role.annotator)
            annotators.append(name)
        trainer = (unique("t") + USERNAME_PAYLOADS[0])[:64]
        make_user(session, username=trainer, role=Role.trainer)
        job = job_queries.enqueue_job(
            session,
            project_id=project.id,
            kind="reward",
            params={"note": everything},
            max_attempts=3,
        )
        job.error = everything
        session.add(
            ModelVersion(
                project_id=project.id,
                kind="reward",
                name=payloads[2][:200],
                base_model=payloads[0],
                path="reward/xss",
                job_id=job.id,
                metrics={"accuracy": 0.5, payloads[2]: 1.0},
            )
        )
        session.add(
            JobMetric(
                job_id=job.id,
                step=1,
                values={
                    "loss": 0.5,
                    payloads[4]: 0.25,
                    "samples": [
                        {"prompt": p, "response": p, "score": 1.0, "note": p} for p in payloads
                    ],
                },
            )
        )
        session.flush()
        return Planted(project.id, job.id, annotators, trainer, payloads)


def _sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, f"could not sign in as {username!r}"


def _assert_inert(page: Any, beacon: Beacon, dialogs: list[str], where: str) -> None:
    page.wait_for_load_state("networkidle")
    # Timers and late handlers (onfocus, ontoggle) get a moment to fire.
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined", f"a payload ran on {where}"
    assert page.title() != "pwned", f"a payload changed the title on {where}"
    assert not dialogs, f"a payload opened a dialog on {where}: {dialogs}"
    assert not beacon.hits, f"a payload loaded {beacon.hits} from {where}"
    smuggled = page.evaluate(DOM_CHECK.replace("BEACON_PORT", repr(str(beacon.port))))
    assert not smuggled, f"payload markup reached the DOM of {where}: {smuggled[:10]}"


PAGES_VISITED = {"count": 0}


def test_payloads_are_inert_on_every_page(
    page: Any, live_server: LiveServer, beacon: Beacon
) -> None:
    planted = _plant(live_server, beacon)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def visit(path: str, expect: str | None = None) -> None:
        page.goto(path)
        _assert_inert(page, beacon, dialogs, path)
        if expect is not None:
            assert expect in page.content(), f"{path} did not show the planted text"
        PAGES_VISITED["count"] += 1

    # The login form echoes the username it was given, and keeps `next`. Each failed
    # attempt costs a password hash, so the short payloads that fit a username are used.
    for payload in [p for p in planted.payloads if len(p) <= 40][:10]:
        page.goto("/login?next=" + payload.replace("&", "%26").replace("#", "%23"))
        page.get_by_label("Username").fill(payload)
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        _assert_inert(page, beacon, dialogs, f"the login echo of {payload!r}")
        assert page.get_by_label("Username").input_value() == payload
        PAGES_VISITED["count"] += 1

    for username in planted.annotators:
        page.context.clear_cookies()
        _sign_in(page, username)
        visit(f"/rate?project={planted.project_id}", expect="Which is safer?")
        # Shown, as text: escaped, not dropped.
        assert "<script>window.__xss=1</script>" in page.inner_text("main")
        visit("/rate")
        visit(f"/rate?project={planted.project_id}&notice=<script>window.__xss=1</script>")
        # The rating form itself, submitted: the next page is the empty-project page.
        page.goto(f"/rate?project={planted.project_id}")
        page.get_by_label("Feedback").fill(planted.payloads[0])
        page.get_by_role("radio", name="Same").check()
        page.get_by_role("button", name="Submit").click()
        _assert_inert(page, beacon, dialogs, "the page after submitting")
        PAGES_VISITED["count"] += 1

    page.context.clear_cookies()
    _sign_in(page, planted.trainer)
    visit("/jobs")
    visit(f"/jobs/{planted.job_id}")
    # The job page draws charts and samples from the metrics API with JavaScript.
    page.wait_for_timeout(1500)
    _assert_inert(page, beacon, dialogs, "the job page after its charts loaded")
    assert "window.__xss=1" in page.inner_text("body")
    visit("/jobs/999999999")
    visit("/models", expect="Models")

    # The console: every page that shows project names, guidelines, usernames, choices.
    with live_server.session() as session:
        admin = make_user(session, username=unique("xssadmin"), role=Role.admin).username
    page.context.clear_cookies()
    _sign_in(page, admin)
    for path in (
        "/projects",
        f"/projects/{planted.project_id}",
        f"/projects/{planted.project_id}/edit",
        f"/projects/{planted.project_id}/quality",
        "/people",
        "/jobs",
        f"/models?project={planted.project_id}",
    ):
        visit(path)
    assert "<script>window.__xss=1</script>" in page.inner_text("main")
    print(
        f"\nxss: {len(planted.payloads)} payloads (+{len(USERNAME_PAYLOADS)} usernames) "
        f"on {PAGES_VISITED['count']} page loads; beacon hits {len(beacon.hits)}"
    )
