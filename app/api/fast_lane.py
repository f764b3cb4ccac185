"""The annotator fast lane: `GET /api/v1/projects/{id}/next` and `POST /api/v1/labels` with a
Bearer token, answered below the shared HTTP stack on PostgreSQL.

Those two requests are nearly all of the traffic of a labelling team, and through FastAPI's
routing, the session/security/body middlewares, a worker thread and a SQLAlchemy session each
cost about as much CPU as the database work itself. Here one ASGI callable answers the
ordinary case with one statement on an autocommit psycopg connection (the token check folded
in), and hands everything else (a bad token, a wrong role, an invalid body, a retried key, an
empty queue, SQLite, tests that wrap requests in a rolled-back transaction) to the full
application, the body replayed, so every answer but the common ones comes from the same
code as before. A request is only handed over before it has written anything but the
token's `last_used_at`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import rating
from app.deps import get_db
from app.middleware import security_headers
from app.models import utcnow
from app.pg_pool import AsyncPgPool, libpq_conninfo
from app.queries import labels as label_queries
from app.queries.queue.postgres import take_next_for_token
from app.queries.users import TOKEN_TOUCH_INTERVAL
from app.schemas.labels import LabelCreate
from app.security import hash_api_token

NEXT_PATH = re.compile(r"/api/v1/projects/([1-9][0-9]{0,9})/next")
LABELS_PATH = "/api/v1/labels"
# A label and the next pair of the project in one request.
LABEL_AND_NEXT_PATH = re.compile(r"/api/v1/projects/([1-9][0-9]{0,9})/labels")
MAX_ID = 2**31 - 1
# A token's owner never changes, so the owner `next` found is remembered for the label that
# follows (its display order depends on who rates). Whether the token still counts is
# checked by every statement; this only saves a lookup. Bounded: cleared when full.
MAX_OWNERS = 100_000
_HEADERS = [(b"content-type", b"application/json")]
_UNAVAILABLE = orjson.dumps({"detail": "database unavailable, retry shortly"})


@dataclass(frozen=True)
class ParsedLabel:
    """A label request the lane can try: its body checked, its caller known."""

    label: label_queries.LabelInput
    token_hash: str
    # The label-and-next request's project; None for `POST /labels`.
    project_id: int | None
    # The request again, for the full path: its body is read already.
    replay: Receive


class AnnotatorFastLane:
    def __init__(self, app: ASGIApp, owner: FastAPI) -> None:
        self.app = app
        self.owner = owner
        self._pool: AsyncPgPool | None = None
        self._owners: dict[str, int] = {}
        self._security = security_headers(docs=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._closing_pool(receive), send)
            return
        if scope["type"] != "http" or not self._applies(scope):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET":
            await self._next(scope, receive, send)
        elif scope["path"] == LABELS_PATH:
            await self._label(scope, receive, send, None)
        else:
            match = LABEL_AND_NEXT_PATH.fullmatch(scope["path"])
            assert match is not None  # _applies matched it
            await self._label(scope, receive, send, int(match[1]))

    def _applies(self, scope: Scope) -> bool:
        method, path = scope["method"], scope["path"]
        if not (
            (method == "POST" and (path == LABELS_PATH or LABEL_AND_NEXT_PATH.fullmatch(path)))
            or (method == "GET" and path.endswith("/next") and NEXT_PATH.fullmatch(path))
        ):
            return False
        if get_db in self.owner.dependency_overrides:
            return False
        return bool(self.owner.state.engine.dialect.name == "postgresql")

    def _closing_pool(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self._pool is not None:
                pool, self._pool = self._pool, None
                await pool.close()
            return message

        return wrapped

    def _pool_here(self) -> AsyncPgPool:
        # A pool belongs to one event loop (a test client starts a loop of its own).
        if self._pool is None or self._pool.loop is not asyncio.get_running_loop():
            url = self.owner.state.engine.url
            self._pool = AsyncPgPool(libpq_conninfo(url), rating.DB_CONCURRENCY)
        return self._pool

    async def _next(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = NEXT_PATH.fullmatch(scope["path"])
        token = _bearer(scope)
        if match is None or token is None or int(match[1]) > MAX_ID:
            await self.app(scope, receive, send)
            return
        try:
            pair = await self._take(hash_api_token(token), int(match[1]))
        except psycopg.OperationalError:
            await self._respond(send, 503, _UNAVAILABLE, [(b"retry-after", b"2")])
            return
        if not pair:
            # Refused, or nothing left (204): answered by the full path.
            await self.app(scope, receive, send)
            return
        await self._respond(send, 200, orjson.dumps(pair))

    async def _take(self, token_hash: str, project_id: int) -> dict[str, Any] | None:
        """The body of a `next` answer, {} when nothing is left to rate, or None when the
        full path must answer (a refusal, no such project, every attempt lost its race)."""
        settings = self.owner.state.settings
        now = utcnow()
        lease_for = timedelta(seconds=settings.assignment_lease_s)
        database = str(self.owner.state.engine.url)
        stale_before = now - TOKEN_TOUCH_INTERVAL
        try:
            taken = await self._pool_here().run(
                lambda conn: take_next_for_token(
                    conn,
                    database,
                    token_hash,
                    project_id,
                    lease_for,
                    now,
                    stale_before,
                    rating.gold_key(self.owner.state),
                )
            )
        except psycopg.Error as exc:
            # A lost database is the caller's 503; any other error means "not the lane's".
            if isinstance(exc, psycopg.OperationalError):
                raise
            return None
        if taken.outcome == "empty":
            return {}
        if taken.outcome != "ok":
            return None
        if len(self._owners) >= MAX_OWNERS:
            self._owners.clear()
        self._owners[token_hash] = taken.user_id
        return rating.next_pair_body(
            comparison_id=taken.comparison_id,
            project_id=taken.project_id,
            # Stored JSON, embedded as it is: parsing it only to write it again costs.
            prompt=orjson.Fragment(taken.messages_json),
            text_a=taken.text_a,
            text_b=taken.text_b,
            swapped=rating.shown_swapped_in(self.owner.state, taken.user_id, taken.comparison_id),
            lease_expires_at=now + lease_for,
        )

    async def _label(
        self, scope: Scope, receive: Receive, send: Send, project_id: int | None
    ) -> None:
        """`POST /labels`, or with `project_id` the label-and-next request of that project."""
        parsed = await self._parse_label(scope, receive, project_id)
        if not isinstance(parsed, ParsedLabel):
            await self.app(scope, parsed, send)
            return
        try:
            stored = await self._store_label(parsed)
        except psycopg.OperationalError:
            # Whether the commit happened is unknown; the client retries with the same key
            # and is answered with the label if it was stored.
            await self._respond(send, 503, _UNAVAILABLE, [(b"retry-after", b"2")])
            return
        if stored is None:
            await self.app(scope, parsed.replay, send)
            return
        await self._answer_label(scope, parsed, stored, send)

    async def _parse_label(
        self, scope: Scope, receive: Receive, project_id: int | None
    ) -> ParsedLabel | Receive:
        """The label to store, or (for the full path to answer) the request's `receive`:
        no Bearer token, a body too large or not JSON, an owner not yet known, an invalid
        label or an id out of range."""
        token = _bearer(scope)
        length = _json_length(scope)
        if token is None or length is None or length > self.owner.state.settings.max_body_bytes:
            return receive
        raw, complete = await _read_body(receive, length)
        replay = _replaying(raw, receive)
        token_hash = hash_api_token(token)
        user_id = self._owners.get(token_hash)
        if not complete or user_id is None:
            return replay
        try:
            body = LabelCreate.model_validate_json(raw)
        except ValidationError:
            return replay
        if not 0 < body.comparison_id <= MAX_ID or (project_id or 0) > MAX_ID:
            return replay
        label = body.to_input(
            user_id, rating.shown_swapped_in(self.owner.state, user_id, body.comparison_id)
        )
        return ParsedLabel(label, token_hash, project_id, replay)

    async def _store_label(self, parsed: ParsedLabel) -> label_queries.StoredLabel | None:
        """The label as stored now; None when nothing was written (the full path answers)."""
        try:
            return await self._pool_here().run(
                lambda conn: label_queries.record_label_for_token(
                    conn, parsed.label, parsed.token_hash, parsed.project_id
                )
            )
        except psycopg.OperationalError:
            raise
        except psycopg.Error:
            return None

    async def _answer_label(
        self, scope: Scope, parsed: ParsedLabel, stored: label_queries.StoredLabel, send: Send
    ) -> None:
        if parsed.project_id is None:
            await self._respond(send, 201, orjson.dumps(stored.__dict__))
            return
        try:
            pair = await self._take(parsed.token_hash, parsed.project_id)
        except psycopg.OperationalError:
            pair = None
        if pair is None:
            # The label is committed; the full path finds it (a retry, to its eyes) and
            # gives the answer about the next pair, a 503 included.
            await self.app(scope, parsed.replay, send)
            return
        body = {"label": stored.__dict__, "next": pair or None}
        await self._respond(send, 201, orjson.dumps(body))

    async def _respond(
        self,
        send: Send,
        status: int,
        body: bytes,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers = [
            *_HEADERS,
            (b"content-length", str(len(body)).encode()),
            *self._security,
            *(extra or []),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _bearer(scope: Scope) -> str | None:
    """The Bearer token, if that is how the caller authenticates; None also when a cookie is
    sent (a browser session belongs to the full path, with its CSRF check)."""
    token = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            token = rating.bearer_token(value.decode("latin-1"))
        elif name == b"cookie":
            return None
    return token


def _json_length(scope: Scope) -> int | None:
    """The declared body length of a JSON request; None if not declared or not JSON."""
    length = None
    json_body = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = int(value) if value.isdigit() else None
        elif name == b"content-type":
            json_body = value.split(b";", 1)[0].strip().lower() == b"application/json"
        elif name == b"transfer-encoding":
            return None
    return length if json_body else None


async def _read_body(receive: Receive, length: int) -> tuple[bytes, bool]:
    """Up to `length` bytes of body; whether the body ended exactly there."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > length:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return b"".join(chunks), size == length


def _replaying(raw: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the already read body once, then whatever comes after it."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay
