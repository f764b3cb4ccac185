"""Driving simulated annotators against a running server, over its real HTTP API.

Each annotator is a task that asks for its next pair, looks the right answer up, answers
as its kind would and sends the label with the next-pair request in one round trip
(`POST /projects/{id}/labels`). `concurrency` bounds the requests in flight, and an
annotator more than `PACE_SLACK` labels ahead of the slowest one still working waits for
it, so that all advance at the same pace, as a team of equally quick people would (left to
the event loop, a few annotators did most of the work).
Every `check_every` labels a check (reliability recomputed) records who is flagged, so
the run can tell after how many labels each bad rater was caught.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.models import Choice
from app.simulation.raters import Rater, Shown
from app.simulation.truth import TruthSource

# (user id -> (status, labels the computation saw)) after a recomputation.
Check = Callable[[], dict[int, tuple[str, int]]]
FLAGGED = ("flagged", "suspended")
RETRIES = 20
PACE_SLACK = 2


@dataclass
class SimulatedAnnotator:
    rater: Rater
    username: str
    user_id: int
    token: str
    labels: int = 0
    # Labels whose right answer was known, and how many of them were right.
    known: int = 0
    correct: int = 0
    skipped: int = 0
    # Why it stopped: "done" (the run's budget), "empty", "suspended".
    stopped: str = ""
    # Labels seen by the first computation that flagged (or suspended) it.
    flagged_at: int | None = None
    status: str = "ok"

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.known if self.known else None


@dataclass
class Run:
    base_url: str
    project_id: int
    annotators: list[SimulatedAnnotator]
    truth: TruthSource
    budget: int
    concurrency: int
    check_every: int = 0
    check: Check | None = None
    made: int = 0
    next_check: int = 0
    _slots: asyncio.Semaphore = field(init=False)
    _checking: asyncio.Lock = field(init=False)
    _pace: asyncio.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)
        self._checking = asyncio.Lock()
        self._pace = asyncio.Condition()
        self.next_check = self.check_every

    def _slowest(self) -> int:
        working = [a.labels for a in self.annotators if not a.stopped]
        return min(working) if working else 0

    async def wait_turn(self, who: SimulatedAnnotator) -> None:
        async with self._pace:
            await self._pace.wait_for(lambda: who.labels <= self._slowest() + PACE_SLACK)

    async def moved(self) -> None:
        async with self._pace:
            self._pace.notify_all()


async def _send(
    client: httpx.AsyncClient, method: str, url: str, token: str, body: Any = None
) -> httpx.Response:
    """A request, retried while the server says it is busy (503) or the connection drops."""
    headers = {"Authorization": f"Bearer {token}"}
    for attempt in range(RETRIES):
        try:
            response = await client.request(method, url, headers=headers, json=body)
        except httpx.TransportError:
            await asyncio.sleep(0.2 * (attempt + 1))
            continue
        if response.status_code != 503:
            return response
        await asyncio.sleep(0.2 * (attempt + 1))
    raise RuntimeError(f"{method} {url}: the server kept failing")


async def _maybe_check(run: Run) -> None:
    if run.check is None or run.check_every <= 0 or run.made < run.next_check:
        return
    async with run._checking:
        if run.made < run.next_check:
            return
        run.next_check = run.made + run.check_every
        statuses = await asyncio.to_thread(run.check)
    record(run.annotators, statuses)


def record(annotators: list[SimulatedAnnotator], statuses: dict[int, tuple[str, int]]) -> None:
    for annotator in annotators:
        status, seen = statuses.get(annotator.user_id, ("ok", 0))
        annotator.status = status
        if status in FLAGGED and annotator.flagged_at is None:
            annotator.flagged_at = seen


async def _annotate(run: Run, client: httpx.AsyncClient, who: SimulatedAnnotator) -> None:
    try:
        await _annotate_until_done(run, client, who)
    finally:
        who.stopped = who.stopped or "error"
        await run.moved()


async def _annotate_until_done(
    run: Run, client: httpx.AsyncClient, who: SimulatedAnnotator
) -> None:
    project = run.project_id
    next_url = f"/api/v1/projects/{project}/next"
    label_url = f"/api/v1/projects/{project}/labels"
    async with run._slots:
        response = await _send(client, "GET", next_url, who.token)
    pair: dict[str, Any] | None = None
    while True:
        if pair is None:
            if response.status_code == 204:
                who.stopped = "empty"
                return
            if response.status_code == 403:
                who.stopped = "suspended"
                return
            response.raise_for_status()
            pair = response.json()
        assert pair is not None
        if run.made >= run.budget:
            who.stopped = "done"
            return
        messages = [{"role": m["role"], "content": m["content"]} for m in pair["prompt"]]
        truth = run.truth.answer(messages, pair["response_a"]["text"], pair["response_b"]["text"])
        if truth is None and who.rater.needs_truth():
            who.skipped += 1
            async with run._slots:
                await _send(
                    client, "POST", f"/api/v1/comparisons/{pair['comparison_id']}/skip", who.token
                )
                response = await _send(client, "GET", next_url, who.token)
            pair = None
            continue
        await run.wait_turn(who)
        if run.made >= run.budget:
            who.stopped = "done"
            return
        choice = who.rater.choose(Shown(pair["comparison_id"], truth, pair["shown_swapped"]))
        body = {
            "comparison_id": pair["comparison_id"],
            "idempotency_key": pair["idempotency_key"],
            "choice": choice.value,
            "time_spent_ms": who.rater.time_spent_ms(),
        }
        run.made += 1
        async with run._slots:
            response = await _send(client, "POST", label_url, who.token, body)
        if response.status_code == 403:
            run.made -= 1
            who.stopped = "suspended"
            return
        response.raise_for_status()
        who.labels += 1
        await run.moved()
        if truth is not None:
            who.known += 1
            who.correct += int(choice == truth)
        pair = response.json()["next"]
        if pair is None:
            async with run._slots:
                response = await _send(client, "GET", next_url, who.token)
        await _maybe_check(run)


async def simulate(run: Run) -> None:
    """Runs every annotator until the budget of labels is spent or their queue is empty."""
    limits = httpx.Limits(
        max_connections=run.concurrency, max_keepalive_connections=run.concurrency
    )
    async with httpx.AsyncClient(base_url=run.base_url, timeout=60, limits=limits) as client:
        await asyncio.gather(*(_annotate(run, client, who) for who in run.annotators))
    if run.check is not None:
        record(run.annotators, await asyncio.to_thread(run.check))


def new_username(prefix: str, kind: str, number: int) -> str:
    return f"{prefix}-{kind}-{number}-{secrets.token_hex(3)}"


def summary(run: Run) -> dict[str, Any]:
    """What the run did, per annotator and in all, as printed by `rlhf simulate`."""
    rows = []
    for who in run.annotators:
        rows.append(
            {
                "username": who.username,
                "kind": who.rater.kind,
                "labels": who.labels,
                "accuracy": None if who.accuracy is None else round(who.accuracy, 3),
                "skipped_unknown": who.skipped,
                "status": who.status,
                "flagged_at_labels": who.flagged_at,
                "stopped": who.stopped,
            }
        )
    return {"labels": run.made, "annotators": rows}


__all__ = ["Choice", "Run", "SimulatedAnnotator", "new_username", "simulate", "summary"]
