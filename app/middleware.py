"""ASGI middleware: request size limits and security headers."""

from __future__ import annotations

import contextlib
import html
import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Inline scripts and styles are refused: every script is a file under /static.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The API docs load their bundles from this server (app/web/docs.py) and start from a script
# file, so scripts stay 'self' only; Swagger UI and ReDoc set inline styles, and ReDoc's
# search runs in a worker made from a blob.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuses bodies over the limit with 413, whether or not Content-Length was declared."""

    def __init__(
        self,
        app: ASGIApp,
        limit_for: Callable[[str], int],
        html_for: Callable[[str], bool] = lambda _path: False,
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        # Pages get a page that says what happened; API callers get JSON.
        self.html_for = html_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        answer = _send_html if self.html_for(scope["path"]) else _send_json
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, "invalid Content-Length header")
                    return
                if declared > limit:
                    await answer(send, 413, _too_large(scope["path"], limit))
                    return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # Parsers may turn our exception into their own 400; once over the limit, the
            # app's answer is dropped and the 413 below is sent instead.
            if exceeded:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if exceeded and not started:
            await answer(send, 413, _too_large(scope["path"], limit))


def _too_large(path: str, limit: int) -> str:
    if path.endswith("/import"):
        return (
            f"request body over the limit of {limit} bytes: an import file may be up to "
            "RLHF_MAX_IMPORT_BYTES; compress it with gzip or split it"
        )
    return f"request body over the limit of {limit} bytes"


async def _send_html(send: Send, status: int, detail: str) -> None:
    """A page of its own: the app (and its templates) never saw this request."""
    text = html.escape(detail[0].upper() + detail[1:] + ".")
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>Too large · RLHF Studio</title><link rel="stylesheet" href="/static/style.css">'
        '</head><body><main id="main"><section class="card narrow"><h1>Too large</h1>'
        f"<p>{text}</p><p>Go back to the form and choose a smaller file.</p></section></main>"
        "</body></html>"
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def security_headers(*, docs: bool) -> list[tuple[bytes, bytes]]:
    """The headers every answer carries (the annotator fast lane adds them itself)."""
    return [
        (b"content-security-policy", (DOCS_CSP if docs else CSP).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    ]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_docs = scope["path"] in ("/docs", "/redoc")

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += security_headers(docs=is_docs)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, add_headers)
