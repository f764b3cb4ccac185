"""import_preferences across batches: COPY staging on PostgreSQL, Core inserts on SQLite.

Tiny batches put repeats, re-imports and late bad lines across batch boundaries, where
the writers de-duplicate against what earlier batches wrote.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.importing.parsers import ImportFormat
from app.importing.pipeline import ImportRejected, ImportSummary, import_preferences
from app.models import Comparison, Label, Project, Prompt, Response
from app.queries.content import add_comparison, get_or_create_prompt, get_or_create_response
from tests.factories import make_project


def body(records: Iterable[object]) -> io.BytesIO:
    return io.BytesIO(b"".join(orjson.dumps(r) + b"\n" for r in records))


def run(
    db: Session, project: Project, records: Iterable[object], *, queue: bool = False
) -> ImportSummary:
    return import_preferences(
        db, project.id, body(records), ImportFormat.pairs, queue=queue, batch_rows=3
    )


def counts(db: Session, project: Project) -> tuple[int, int, int, int]:
    prompts = select(Prompt.id).where(Prompt.project_id == project.id)
    comparisons = select(Comparison.id).where(Comparison.project_id == project.id)
    return (
        db.scalar(select(func.count()).where(Prompt.project_id == project.id)) or 0,
        db.scalar(select(func.count()).where(Response.prompt_id.in_(prompts))) or 0,
        db.scalar(select(func.count()).where(Comparison.project_id == project.id)) or 0,
        db.scalar(select(func.count()).where(Label.comparison_id.in_(comparisons))) or 0,
    )


def label_counts(db: Session, project: Project) -> list[int]:
    return list(
        db.scalars(
            select(Comparison.label_count)
            .where(Comparison.project_id == project.id)
            .order_by(Comparison.id)
        )
    )


def pair(i: int, label: str | None = "better", prompt: str | None = None) -> dict[str, str]:
    record = {"prompt": prompt or f"question {i}", "response_a": f"a{i}", "response_b": f"b{i}"}
    if label is not None:
        record["label"] = label
    return record


def test_repeats_within_and_across_batches_are_duplicates(db: Session) -> None:
    project = make_project(db)
    records = [pair(0), pair(1), pair(0), pair(2), pair(1), pair(3), pair(0)]
    # The same pair with A and B the other way round is the same comparison.
    records.append({"prompt": "question 2", "response_a": "b2", "response_b": "a2"})
    summary = run(db, project, records)
    assert (summary.imported, summary.duplicates) == (4, 4)
    assert counts(db, project) == (4, 8, 4, 4)
    assert label_counts(db, project) == [1, 1, 1, 1]


def test_ids_follow_the_file_and_shared_content_is_stored_once(db: Session) -> None:
    project = make_project(db)
    records = [pair(i, prompt="shared question") for i in range(7)]
    records.append(
        {"prompt": "shared question", "response_a": "a1", "response_b": "b5", "label": "same"}
    )
    summary = run(db, project, records)
    assert (summary.imported, summary.duplicates) == (8, 0)
    assert counts(db, project) == (1, 14, 8, 8)
    hashes = db.scalars(
        select(Comparison.pair_hash)
        .where(Comparison.project_id == project.id)
        .order_by(Comparison.id)
    )
    label_order = db.scalars(
        select(Comparison.pair_hash)
        .join(Label, Label.comparison_id == Comparison.id)
        .where(Comparison.project_id == project.id)
        .order_by(Label.id)
    )
    assert list(hashes) == list(label_order)
    texts = db.scalars(
        select(Response.text).join(Prompt).where(Prompt.project_id == project.id)
    ).all()
    assert sorted(texts) == sorted({f"{side}{i}" for i in range(7) for side in "ab"})


def test_reimport_and_partial_reimport(db: Session) -> None:
    project = make_project(db)
    first = [pair(i, label=("better", "worse", "same", None)[i % 4]) for i in range(10)]
    assert run(db, project, first).imported == 10
    before = counts(db, project)
    choices = list(db.scalars(select(Label.choice).order_by(Label.id)))

    again = run(db, project, first)
    assert (again.imported, again.duplicates) == (0, 10)
    assert counts(db, project) == before
    assert list(db.scalars(select(Label.choice).order_by(Label.id))) == choices

    # Known pairs first (the writer switches to looking them up), then new ones.
    mixed = run(db, project, first[:6] + [pair(i) for i in range(10, 16)])
    assert (mixed.imported, mixed.duplicates) == (6, 6)
    assert counts(db, project) == (16, 32, 16, 14)
    assert label_counts(db, project) == [1, 1, 1, 0, 1, 1, 1, 0, 1, 1] + [1] * 6


def test_a_label_arriving_after_its_pair_is_counted_once(db: Session) -> None:
    project = make_project(db)
    summary = run(db, project, [pair(0, label=None), pair(1), pair(2), pair(0, label="worse")])
    # Line 4 is in the second batch: its label lands on the comparison line 1 created.
    assert (summary.imported, summary.duplicates) == (4, 0)
    assert counts(db, project) == (3, 6, 3, 3)
    assert label_counts(db, project) == [1, 1, 1]
    assert run(db, project, [pair(0, label="worse")]).duplicates == 1


def test_queued_imports_leave_label_count_alone(db: Session) -> None:
    project = make_project(db)
    run(db, project, [pair(0, label=None), pair(1), pair(2)], queue=True)
    run(db, project, [pair(0), pair(3)], queue=True)
    assert counts(db, project) == (4, 8, 4, 4)
    assert label_counts(db, project) == [0, 0, 0, 0]


def test_labels_follow_the_stored_order_of_existing_comparisons(db: Session) -> None:
    project = make_project(db)
    # Enough duplicates first that later batches look pairs up before inserting.
    run(db, project, [pair(i) for i in range(6)])
    messages = [{"role": "user", "content": "Pick one"}]
    prompt = get_or_create_prompt(db, project.id, messages, "manual")
    first = get_or_create_response(db, prompt, "first answer", "manual")
    second = get_or_create_response(db, prompt, "second answer", "manual")
    comparison, _ = add_comparison(db, project.id, prompt, first, second, source="manual")
    db.flush()
    records = [pair(i) for i in range(6)]
    # The file has A and B the other way round and prefers its B, the stored A.
    records.append(
        {"prompt": "Pick one", "response_a": "second answer", "response_b": "first answer"}
        | {"label": "better"}
    )
    summary = run(db, project, records)
    assert (summary.imported, summary.duplicates) == (1, 6)
    assert run(db, project, records).duplicates == 7
    label = db.scalars(select(Label).where(Label.comparison_id == comparison.id)).one()
    assert label.choice == "worse"
    db.refresh(comparison)
    assert comparison.label_count == 1


def test_a_bad_line_after_written_batches_writes_nothing(db: Session) -> None:
    project = make_project(db)
    db.commit()
    records: list[object] = [pair(i) for i in range(20)]
    records.insert(13, {"prompt": "q", "response_a": "a", "response_b": "b", "label": "best"})
    records.append(["not", "an", "object"])
    savepoint = db.begin_nested()
    with pytest.raises(ImportRejected) as rejected:
        run(db, project, records)
    savepoint.rollback()
    assert [(p.line, p.message[:22]) for p in rejected.value.problems] == [
        (14, "label must be one of b"),
        (22, "a line must be a JSON "),
    ]
    assert counts(db, project) == (0, 0, 0, 0)
    # The connection is still usable for the next import.
    assert run(db, project, [pair(0)]).imported == 1


def test_hh_records_extended_by_a_human_turn_are_skipped_and_the_rest_imported(
    db: Session,
) -> None:
    # HH-RLHF helpful-online has records whose one transcript is the other plus a Human turn.
    project = make_project(db)
    good = [
        {"chosen": f"\n\nHuman: q{i}\n\nAssistant: yes {i}",
         "rejected": f"\n\nHuman: q{i}\n\nAssistant: no {i}"}
        for i in range(7)
    ]  # fmt: skip
    history = "\n\nHuman: Any tips?\n\nAssistant: Drink water."
    records: list[object] = list(good)
    records.insert(2, {"chosen": history, "rejected": history + "\n\nHuman: ok"})
    records.insert(6, {"chosen": history + "\n\nHuman: more?", "rejected": history})
    records.append({"chosen": history, "rejected": history})
    summary = import_preferences(db, project.id, body(records), ImportFormat.hh, batch_rows=3)
    assert (summary.imported, summary.duplicates) == (7, 0)
    assert summary.skipped_total == 3
    assert summary.skipped_kinds == {"extended_transcript": 2, "identical": 1}
    assert [(p.line, p.kind) for p in summary.skipped] == [
        (3, "extended_transcript"),
        (7, "extended_transcript"),
        (10, "identical"),
    ]
    assert counts(db, project) == (7, 14, 7, 7)
