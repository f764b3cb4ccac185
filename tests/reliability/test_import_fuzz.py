"""Hostile import files: any bytes give a 4xx or a clean import, never a 5xx or half a file."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Comparison, Label, Prompt, Response, Role
from tests.auth_helpers import bearer
from tests.factories import make_project, make_token, make_user

FORMATS = ("pairs", "hh", "trl")


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )


CASES_RUN = {"count": 0}


def fuzzed(examples: int, run: Callable[[], None]) -> None:
    """Runs a Hypothesis test and checks it really posted its files (a strategy that filters
    everything out would otherwise pass having tested nothing)."""
    before = CASES_RUN["count"]
    run()
    assert CASES_RUN["count"] - before >= examples


text = st.text(min_size=0, max_size=40)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def valid_line(draw: st.DrawFn, fmt: str) -> bytes:
    prompt = draw(st.text(min_size=1, max_size=30).filter(str.strip))
    a = draw(st.text(min_size=1, max_size=30).filter(str.strip))
    b = draw(st.text(min_size=1, max_size=30).filter(lambda t: t.strip() and t != a))
    if fmt == "pairs":
        row: dict[str, object] = {"prompt": prompt, "response_a": a, "response_b": b}
        label = draw(st.sampled_from([None, "better", "worse", "same"]))
        if label:
            row["label"] = label
    elif fmt == "hh":
        row = {
            "chosen": f"\n\nHuman: {prompt}\n\nAssistant: {a}",
            "rejected": f"\n\nHuman: {prompt}\n\nAssistant: {b}",
        }
    else:
        row = {"prompt": prompt, "chosen": a, "rejected": b}
    return json.dumps(row).encode()


@st.composite
def hostile_line(draw: st.DrawFn, fmt: str) -> bytes:
    """A line that is valid, or a near miss of one: a field's type, a key, the bytes broken."""
    line = draw(valid_line(fmt))
    how = draw(st.sampled_from(["keep", "value", "drop", "extra", "truncate", "bytes", "any"]))
    row = json.loads(line)
    if how == "value":
        row[draw(st.sampled_from(sorted(row)))] = draw(json_value)
    elif how == "drop":
        row.pop(draw(st.sampled_from(sorted(row))))
    elif how == "extra":
        row[draw(text)] = draw(json_value)
    elif how == "truncate":
        return line[: draw(st.integers(0, max(0, len(line) - 1)))]
    elif how == "bytes":
        return draw(st.binary(max_size=60))
    elif how == "any":
        return json.dumps(draw(json_value)).encode()
    return json.dumps(row).encode()


@dataclass
class Counts:
    prompts: int
    responses: int
    comparisons: int
    labels: int


def counts(db: Session, project_id: int) -> Counts:
    def count(query: object) -> int:
        return int(db.scalar(query) or 0)  # type: ignore[call-overload]

    return Counts(
        prompts=count(select(func.count()).where(Prompt.project_id == project_id)),
        responses=count(
            select(func.count())
            .select_from(Response)
            .join(Prompt, Prompt.id == Response.prompt_id)
            .where(Prompt.project_id == project_id)
        ),
        comparisons=count(select(func.count()).where(Comparison.project_id == project_id)),
        labels=count(
            select(func.count())
            .select_from(Label)
            .join(Comparison, Comparison.id == Label.comparison_id)
            .where(Comparison.project_id == project_id)
        ),
    )


def post(client: TestClient, token: str, project_id: int, fmt: str, body: bytes) -> object:
    CASES_RUN["count"] += 1
    return client.post(
        f"/api/v1/projects/{project_id}/import",
        params={"format": fmt},
        content=body,
        headers={**bearer(token), "Content-Type": "application/x-ndjson"},
    )


def check_clean_or_refused(db: Session, before: Counts, project_id: int, answer: object) -> None:
    status = answer.status_code  # type: ignore[attr-defined]
    assert status < 500, answer.text  # type: ignore[attr-defined]
    db.expire_all()
    after = counts(db, project_id)
    if status >= 400:
        assert after == before, f"a refused import ({status}) wrote rows"
        return
    assert status == 200, answer.text  # type: ignore[attr-defined]
    imported = answer.json()["imported"]  # type: ignore[attr-defined]
    new_comparisons = after.comparisons - before.comparisons
    new_labels = after.labels - before.labels
    # Each imported line added a comparison, a label, or both; nothing else was added.
    assert new_comparisons <= imported <= new_comparisons + new_labels
    assert new_labels <= imported


def _admin(db: Session) -> tuple[int, str]:
    project = make_project(db)
    _, token = make_token(db, make_user(db, role=Role.admin))
    db.commit()
    return project.id, token


def test_any_bytes(client: TestClient, db: Session) -> None:
    project_id, token = _admin(db)

    @fuzz_settings(120)
    @given(body=st.binary(max_size=3000), fmt=st.sampled_from(FORMATS))
    def run(body: bytes, fmt: str) -> None:
        before = counts(db, project_id)
        check_clean_or_refused(db, before, project_id, post(client, token, project_id, fmt, body))

    fuzzed(120, run)


def test_near_miss_files(client: TestClient, db: Session) -> None:
    project_id, token = _admin(db)

    @fuzz_settings(120)
    @given(data=st.data(), fmt=st.sampled_from(FORMATS))
    def run(data: st.DataObject, fmt: str) -> None:
        lines = data.draw(st.lists(hostile_line(fmt), min_size=1, max_size=8))
        body = b"\n".join(lines) + data.draw(st.sampled_from([b"", b"\n", b"\r\n"]))
        before = counts(db, project_id)
        check_clean_or_refused(db, before, project_id, post(client, token, project_id, fmt, body))

    fuzzed(120, run)


def test_one_bad_line_writes_nothing_and_is_named(client: TestClient, db: Session) -> None:
    project_id, token = _admin(db)

    @fuzz_settings(60)
    @given(data=st.data(), fmt=st.sampled_from(FORMATS))
    def run(data: st.DataObject, fmt: str) -> None:
        lines = data.draw(st.lists(valid_line(fmt), min_size=1, max_size=8))
        at = data.draw(st.integers(0, len(lines)))
        bad = data.draw(st.sampled_from([b"{not json", b"[1, 2]", b'"a string"', b"\xff\xfe{"]))
        lines.insert(at, bad)
        before = counts(db, project_id)
        answer = post(client, token, project_id, fmt, b"\n".join(lines) + b"\n")
        assert answer.status_code == 422, answer.text  # type: ignore[attr-defined]
        named = {p["line"] for p in answer.json()["detail"]}  # type: ignore[attr-defined]
        assert at + 1 in named
        db.expire_all()
        assert counts(db, project_id) == before

    fuzzed(60, run)
