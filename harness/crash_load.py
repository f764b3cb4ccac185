"""Annotators labelling through a server that is SIGKILLed and restarted under them.

Shared by tests/reliability/test_server_crash.py (a short run per database) and
bench/chaos.py (longer runs). Each simulated annotator loops: GET the next pair, POST a
label with a fresh idempotency key, and on a dropped connection or a 5xx sends the SAME
request with the SAME key again until the server acknowledges it. A ledger records every
key sent and every acknowledgement, and `verify` compares it with the database afterwards.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.models import Comparison, Label, Role
from app.queries import content as content_queries
from app.queries import projects as project_queries
from app.queries import users as user_queries
from harness.processes import kill_group, start_server

# A request that gets no answer in this long is treated like a dropped connection.
REQUEST_TIMEOUT_S = 15.0
# Pause between retries of one request: short, so that the moment the server is back counts.
RETRY_PAUSE_S = 0.1
# After the load stops, annotators still finishing a retry get this long to be acknowledged.
DRAIN_S = 60.0


@dataclass
class Seeded:
    project_id: int
    tokens: list[str]


def seed(engine: Engine, *, annotators: int, comparisons: int) -> Seeded:
    """A project every annotator may label in full, and one token per annotator."""
    run = uuid.uuid4().hex[:8]
    with Session(engine, expire_on_commit=False) as session, session.begin():
        project = project_queries.create_project(
            session, name=f"crash load {run}", labels_per_comparison=annotators
        )
        for n in range(comparisons):
            messages = [{"role": "user", "content": f"Question {n} of {run}?"}]
            prompt = content_queries.get_or_create_prompt(session, project.id, messages, "load")
            a, b = (
                content_queries.get_or_create_response(session, prompt, f"Answer {side}.", "load")
                for side in "AB"
            )
            content_queries.add_comparison(session, project.id, prompt, a, b, source="load")
        tokens = []
        for n in range(annotators):
            # No password: argon2 for 64 people would be the slowest part of the test.
            user = user_queries.create_user(session, f"load{run}x{n}", Role.annotator, None)
            tokens.append(user_queries.create_token(session, user, "load")[1])
        return Seeded(project_id=project.id, tokens=tokens)


@dataclass
class Ledger:
    """What the clients saw: every key they sent and the label id each acknowledgement named."""

    sent: dict[str, int] = field(default_factory=dict)  # key -> comparison id
    acked: dict[str, int] = field(default_factory=dict)  # key -> label id
    acked_on_retry: int = 0  # acknowledgements that came on a second or later attempt
    replayed: int = 0  # 200 answers: an earlier attempt had committed, its ack was lost
    retries: int = 0  # requests sent again after a dropped connection or a 5xx
    refused: list[str] = field(default_factory=list)  # 4xx answers to a label (must be none)
    gave_up: int = 0  # keys still unacknowledged when the drain time ran out
    failures: Counter[str] = field(default_factory=Counter)  # why attempts failed
    posts_in_flight: int = 0


async def _until_answered(
    client: httpx.AsyncClient,
    ledger: Ledger,
    method: str,
    url: str,
    deadline: float,
    **kwargs: object,
) -> tuple[httpx.Response | None, int]:
    """Sends the request until it gets an answer below 500 or the deadline passes.

    Returns the answer (None if there was none in time) and how many attempts it took.
    """
    attempts = 0
    while time.monotonic() < deadline:
        if attempts:
            ledger.retries += 1
            await asyncio.sleep(RETRY_PAUSE_S)
        attempts += 1
        try:
            response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            ledger.failures[type(exc).__name__] += 1
            continue
        if response.status_code < 500:
            return response, attempts
        ledger.failures[f"{response.status_code} {response.text[:60]}"] += 1
    return None, attempts


async def _annotator(
    base_url: str, token: str, project_id: int, stop: asyncio.Event, ledger: Ledger
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S, limits=limits
    ) as client:
        while not stop.is_set():
            answer, _ = await _until_answered(
                client, ledger, "GET", f"/api/v1/projects/{project_id}/next", _stop_deadline(stop)
            )
            if answer is None or answer.status_code == 204:
                return
            if answer.status_code != 200:
                ledger.refused.append(f"next: {answer.status_code} {answer.text[:200]}")
                return
            pair = answer.json()
            key = uuid.uuid4().hex
            ledger.sent[key] = pair["comparison_id"]
            body = {
                "comparison_id": pair["comparison_id"],
                "idempotency_key": key,
                "choice": random.choice(["better", "worse", "same"]),
                "feedback": f"label {key[:8]}",
            }
            # Once a label is sent it is retried until acknowledged, even after the stop.
            started = time.monotonic()
            ledger.posts_in_flight += 1
            try:
                acked, attempts = await _until_answered(
                    client, ledger, "POST", "/api/v1/labels", started + DRAIN_S, json=body
                )
            finally:
                ledger.posts_in_flight -= 1
            if acked is None:
                ledger.gave_up += 1
                return
            if acked.status_code not in (200, 201):
                ledger.refused.append(f"label: {acked.status_code} {acked.text[:200]}")
                return
            ledger.acked[key] = acked.json()["id"]
            if attempts > 1:
                ledger.acked_on_retry += 1
            if acked.status_code == 200:
                ledger.replayed += 1


def _stop_deadline(stop: asyncio.Event) -> float:
    # Fetching the next pair is not worth retrying once the run is over.
    return time.monotonic() + (0 if stop.is_set() else DRAIN_S)


@dataclass
class ChaosRun:
    seconds: float
    kills: int
    ledger: Ledger
    restart_s: list[float]


def run_chaos(
    base_port: int,
    env: dict[str, str],
    seeded: Seeded,
    *,
    seconds: float,
    kills: int,
    server_workers: int,
    log: Path,
    rng: random.Random,
    min_acks_between: int = 50,
) -> ChaosRun:
    """Runs the annotators for `seconds` or more while the server is SIGKILLed `kills` times.

    Each kill falls at a random moment of its slice of the run, but not before the restarted
    server has acknowledged `min_acks_between` labels (a busy machine restarts slowly; a kill
    before any work is done proves nothing), and only while some label is in flight.
    """
    base_url = f"http://127.0.0.1:{base_port}"
    server = start_server(env, base_port, workers=server_workers, log=log)
    ledger = Ledger()
    restart_s: list[float] = []
    slice_s = seconds / (kills + 1)
    kill_at = sorted(i * slice_s + rng.uniform(0.2, 0.8) * slice_s for i in range(kills))

    async def until(condition: Callable[[], bool], limit_s: float) -> None:
        deadline = time.monotonic() + limit_s
        while not condition() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def main() -> None:
        nonlocal server
        stop = asyncio.Event()
        clients = [
            asyncio.create_task(_annotator(base_url, token, seeded.project_id, stop, ledger))
            for token in seeded.tokens
        ]
        started = time.monotonic()
        for at in kill_at:
            wanted = len(ledger.acked) + min_acks_between
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            await until(lambda w=wanted: len(ledger.acked) >= w, 120)
            await until(lambda: ledger.posts_in_flight > 0, 10)
            kill_group(server)
            down = time.monotonic()
            server = await asyncio.to_thread(
                start_server, env, base_port, workers=server_workers, log=log
            )
            restart_s.append(time.monotonic() - down)
        wanted = len(ledger.acked) + min_acks_between
        await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))
        await until(lambda: len(ledger.acked) >= wanted, 120)
        stop.set()
        await asyncio.gather(*clients)

    try:
        asyncio.run(main())
    finally:
        kill_group(server)
    return ChaosRun(seconds=seconds, kills=len(restart_s), ledger=ledger, restart_s=restart_s)


@dataclass
class Verdict:
    labels_in_db: int
    acked: int
    missing: list[str]  # acknowledged, not in the database
    duplicated: list[str]  # a key on more than one label
    unknown: list[str]  # labels whose key no client sent
    wrong_id: list[str]  # acknowledged with another label id than the database holds
    unacked_committed: int  # committed, never acknowledged (only when a client gave up)
    count_mismatches: list[int]  # comparisons whose label_count disagrees with their labels


def verify(engine: Engine, project_id: int, ledger: Ledger) -> Verdict:
    with Session(engine) as session:
        rows = session.execute(
            select(Label.idempotency_key, Label.id)
            .join(Comparison, Comparison.id == Label.comparison_id)
            .where(Comparison.project_id == project_id)
        ).all()
        counted = dict(
            session.execute(
                select(Comparison.id, Comparison.label_count).where(
                    Comparison.project_id == project_id
                )
            )
            .tuples()
            .all()
        )
        actual = Counter(
            dict(
                session.execute(
                    select(Label.comparison_id, func.count())
                    .join(Comparison, Comparison.id == Label.comparison_id)
                    .where(Comparison.project_id == project_id)
                    .group_by(Label.comparison_id)
                )
                .tuples()
                .all()
            )
        )
    keys = Counter(key for key, _ in rows)
    ids = {key: label_id for key, label_id in rows}
    return Verdict(
        labels_in_db=len(rows),
        acked=len(ledger.acked),
        missing=[k for k in ledger.acked if k not in keys],
        duplicated=[k for k, n in keys.items() if n > 1],
        unknown=[k for k in keys if k not in ledger.sent],
        wrong_id=[k for k, i in ledger.acked.items() if k in ids and ids[k] != i],
        unacked_committed=sum(1 for k in keys if k not in ledger.acked),
        count_mismatches=[c for c, n in counted.items() if n != actual.get(c, 0)],
    )
