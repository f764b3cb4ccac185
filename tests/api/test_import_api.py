"""POST /api/v1/projects/{id}/import: formats, all-or-nothing, de-duplication, A/B order."""

from __future__ import annotations

import gzip
from collections.abc import Iterable

import orjson
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.content import messages_hash, text_hash
from app.models import Comparison, Label, Project, Prompt, Response, Role
from app.queries.content import add_comparison, get_or_create_prompt, get_or_create_response
from tests.api.committed import HH_FILES, SHARED_DATA
from tests.auth_helpers import bearer
from tests.factories import make_project, make_token, make_user


def admin_headers(db: Session) -> dict[str, str]:
    _, token = make_token(db, make_user(db, role=Role.admin))
    return bearer(token)


def jsonl(records: Iterable[object]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def counts(db: Session, project: Project) -> tuple[int, int, int, int]:
    def count(model: type, where: object) -> int:
        return int(db.scalar(select(func.count()).select_from(model).where(where)) or 0)  # type: ignore[arg-type]

    comparison_ids = select(Comparison.id).where(Comparison.project_id == project.id)
    prompt_ids = select(Prompt.id).where(Prompt.project_id == project.id)
    return (
        count(Prompt, Prompt.project_id == project.id),
        count(Response, Response.prompt_id.in_(prompt_ids)),
        count(Comparison, Comparison.project_id == project.id),
        count(Label, Label.comparison_id.in_(comparison_ids)),
    )


def test_hh_files_import_with_their_human_choices(client: TestClient, db: Session) -> None:
    headers = admin_headers(db)
    project = make_project(db)
    db.commit()
    body = (SHARED_DATA / HH_FILES[0]).read_bytes()
    response = client.post(
        f"/api/v1/projects/{project.id}/import?format=hh",
        content=body,
        headers={**headers, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    # Four records end with an empty Assistant turn; they are reported, not imported.
    assert (result["imported"], result["duplicates"], result["skipped"]) == (1796, 0, 4)
    assert [s["line"] for s in result["skipped_lines"]] == [87, 517, 926, 1104]
    assert result["skipped_kinds"] == {"empty_response": 4}
    assert {s["kind"] for s in result["skipped_lines"]} == {"empty_response"}
    _, _, comparisons, labels = counts(db, project)
    assert comparisons == labels == 1796
    sources = set(db.scalars(select(Label.source).distinct()))
    assert sources == {"import:hh"}
    assert db.scalar(select(func.count()).where(Label.annotator_id.is_not(None))) == 0
    # A/B randomised: the chosen response is B in about half of the comparisons.
    better = db.scalar(select(func.count()).where(Label.choice == "better"))
    assert 700 < (better or 0) < 1100

    again = client.post(
        f"/api/v1/projects/{project.id}/import?format=hh",
        content=gzip.decompress(body),
        headers=headers,
    )
    assert again.json()["imported"] == 0 and again.json()["duplicates"] == 1796
    assert counts(db, project)[2:] == (1796, 1796)


def test_three_bad_lines_are_all_reported_and_nothing_is_written(
    client: TestClient, db: Session
) -> None:
    headers = admin_headers(db)
    project = make_project(db)
    db.commit()
    good = [
        {"prompt": f"q{i}", "response_a": f"a{i}", "response_b": f"b{i}", "label": "better"}
        for i in range(10)
    ]
    lines = [orjson.dumps(r) for r in good]
    lines[2] = b"{oops"
    lines[5] = orjson.dumps({"prompt": "q", "response_a": "", "response_b": "b"})
    lines[8] = orjson.dumps(
        {"prompt": [{"role": "robot", "content": "x"}], "response_a": "a", "response_b": "b"}
    )
    response = client.post(
        f"/api/v1/projects/{project.id}/import?format=pairs",
        content=b"\n".join(lines) + b"\n",
        headers=headers,
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["line"] for d in detail] == [3, 6, 9]
    assert "JSON" in detail[0]["message"] and "empty" in detail[1]["message"]
    assert "unknown role" in detail[2]["message"]
    assert counts(db, project) == (0, 0, 0, 0)


def test_bad_line_after_many_good_batches_still_writes_nothing(
    client: TestClient, db: Session
) -> None:
    headers = admin_headers(db)
    project = make_project(db)
    db.commit()
    records: list[object] = [
        {"prompt": f"q{i}", "response_a": f"a{i}", "response_b": f"b{i}"} for i in range(4500)
    ]
    records.append({"prompt": "q", "response_a": "a"})
    response = client.post(
        f"/api/v1/projects/{project.id}/import", content=jsonl(records), headers=headers
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [{"line": 4501, "message": "missing field 'response_b'"}]
    assert counts(db, project) == (0, 0, 0, 0)


def test_prompts_and_responses_are_shared_by_content(client: TestClient, db: Session) -> None:
    headers = admin_headers(db)
    project = make_project(db)
    db.commit()
    records = [
        {"prompt": "Same question", "response_a": "x", "response_b": "y"},
        {
            "prompt": [{"role": "user", "content": "Same question"}],
            "response_a": "y",
            "response_b": "z",
        },
        {"prompt": "Same question", "response_a": "y", "response_b": "x"},
    ]
    result = client.post(
        f"/api/v1/projects/{project.id}/import", content=jsonl(records), headers=headers
    ).json()
    assert (result["imported"], result["duplicates"]) == (2, 1)
    assert counts(db, project) == (1, 3, 2, 0)


def test_labelled_imports_stay_out_of_the_queue_unless_asked(
    client: TestClient, db: Session
) -> None:
    headers = admin_headers(db)
    quiet, queued = make_project(db), make_project(db)
    db.commit()
    records = [{"prompt": "q", "chosen": "good", "rejected": "bad"}]
    client.post(
        f"/api/v1/projects/{quiet.id}/import?format=trl", content=jsonl(records), headers=headers
    )
    client.post(
        f"/api/v1/projects/{queued.id}/import?format=trl&queue=true",
        content=jsonl(records),
        headers=headers,
    )
    quiet_count = db.scalar(select(Comparison.label_count).where(Comparison.project_id == quiet.id))
    queued_count = db.scalar(
        select(Comparison.label_count).where(Comparison.project_id == queued.id)
    )
    assert (quiet_count, queued_count) == (1, 0)


def test_a_label_for_an_existing_comparison_follows_its_stored_order(
    client: TestClient, db: Session
) -> None:
    headers = admin_headers(db)
    project = make_project(db)
    messages = [{"role": "user", "content": "Pick one"}]
    prompt = get_or_create_prompt(db, project.id, messages, "manual")
    first = get_or_create_response(db, prompt, "first answer", "manual")
    second = get_or_create_response(db, prompt, "second answer", "manual")
    comparison, _ = add_comparison(db, project.id, prompt, first, second, source="manual")
    db.commit()
    assert prompt.content_hash == messages_hash(messages) and first.content_hash == text_hash(
        "first answer"
    )
    # The human preferred the stored A; whatever order the import picks, the label must say so.
    for chosen in ("first answer",):
        record = {"prompt": "Pick one", "chosen": chosen, "rejected": "second answer"}
        result = client.post(
            f"/api/v1/projects/{project.id}/import?format=trl",
            content=jsonl([record]),
            headers=headers,
        ).json()
        assert result["imported"] == 1
    label = db.scalars(select(Label).where(Label.comparison_id == comparison.id)).one()
    assert label.choice == "worse"
    db.refresh(comparison)
    assert comparison.label_count == 1


def test_only_admins_may_import(client: TestClient, db: Session) -> None:
    project = make_project(db)
    tokens = {
        role: make_token(db, make_user(db, role=role))[1] for role in (Role.annotator, Role.trainer)
    }
    db.commit()
    for token in tokens.values():
        response = client.post(
            f"/api/v1/projects/{project.id}/import",
            content=jsonl([{"prompt": "q", "response_a": "a", "response_b": "b"}]),
            headers=bearer(token),
        )
        assert response.status_code == 403
    assert counts(db, project) == (0, 0, 0, 0)


def test_unknown_project_and_bad_gzip(client: TestClient, db: Session) -> None:
    headers = admin_headers(db)
    project = make_project(db)
    db.commit()
    assert (
        client.post("/api/v1/projects/999999/import", content=b"", headers=headers).status_code
        == 404
    )
    response = client.post(
        f"/api/v1/projects/{project.id}/import",
        content=b"not gzip",
        headers={**headers, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 400


def test_gzip_body_that_expands_past_the_limit_is_refused(
    client: TestClient, db: Session, app: FastAPI
) -> None:
    headers = admin_headers(db)
    project = make_project(db)
    db.commit()
    app.state.settings = app.state.settings.model_copy(update={"max_import_bytes": 100_000})
    line = b'{"prompt": "p", "response_a": "' + b"a" * 1000 + b'", "response_b": "b"}\n'
    bomb = gzip.compress(line * 1000)  # ~1 MB of lines in a few KB
    assert len(bomb) < 100_000
    response = client.post(
        f"/api/v1/projects/{project.id}/import?format=pairs",
        content=bomb,
        headers={**headers, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 413
    assert "decompresses" in response.json()["detail"]
    assert counts(db, project) == (0, 0, 0, 0)
