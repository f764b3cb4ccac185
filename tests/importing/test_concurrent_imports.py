"""Writers of one project's content at the same time: two imports of the same pairs in
opposite orders, and generation's get-or-create during an import. Each waits for the other,
succeeds, and the content is stored once."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.content import messages_hash
from app.importing.parsers import ImportFormat
from app.importing.pipeline import ImportSummary, import_preferences
from app.models import Comparison, Label, Prompt, Response
from app.queries.content import get_or_create_prompt
from harness.databases import fresh_database, migrated_engine
from tests.factories import make_project

PAIRS = 600


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with fresh_database(tmp_path) as url:
        engine = migrated_engine(url, tmp_path)
        yield engine
        engine.dispose()


def _lines(order: range) -> bytes:
    return b"".join(
        orjson.dumps(
            {
                # Pairs 5, 15, 25, ... share the prompt of the pair before: prompts conflict too.
                "prompt": f"question {i - i % 2 if i % 5 == 0 else i}",
                "response_a": f"first answer {i}",
                "response_b": f"second answer {i}",
                "label": "better" if i % 3 else "worse",
            }
        )
        + b"\n"
        for i in order
    )


def test_overlapping_imports_in_opposite_orders_both_succeed_once(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        project_id = make_project(session, name="concurrent").id
    files = [_lines(range(PAIRS)), _lines(range(PAIRS - 1, -1, -1))]
    start = threading.Barrier(len(files))
    results: list[ImportSummary] = []
    errors: list[BaseException] = []

    def run(data: bytes) -> None:
        try:
            with Session(engine) as session, session.begin():
                start.wait()
                results.append(
                    import_preferences(
                        session, project_id, io.BytesIO(data), ImportFormat.pairs, batch_rows=50
                    )
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(data,)) for data in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "an import hung"
    assert errors == []
    # One import waited for the other and found every pair there.
    assert sorted((r.imported, r.duplicates) for r in results) == [(0, PAIRS), (PAIRS, 0)]

    with Session(engine) as session:
        comparisons = select(Comparison.id).where(Comparison.project_id == project_id)
        prompts = select(Prompt.id).where(Prompt.project_id == project_id)
        stored = (
            session.scalar(select(func.count()).select_from(prompts.subquery())),
            session.scalar(select(func.count()).where(Response.prompt_id.in_(prompts))),
            session.scalar(select(func.count()).select_from(comparisons.subquery())),
            session.scalar(select(func.count()).where(Label.comparison_id.in_(comparisons))),
        )
        label_counts = set(
            session.scalars(
                select(Comparison.label_count).where(Comparison.project_id == project_id)
            )
        )
    distinct_prompts = len({i - i % 2 if i % 5 == 0 else i for i in range(PAIRS)})
    assert stored == (distinct_prompts, 2 * PAIRS, PAIRS, PAIRS)
    assert label_counts == {1}


def test_a_get_or_create_during_an_import_waits_and_finds_the_imported_prompt(
    engine: Engine,
) -> None:
    with Session(engine) as session, session.begin():
        project_id = make_project(session, name="import then generate").id
    found: list[int] = []
    errors: list[BaseException] = []
    messages = [{"role": "user", "content": "question 1"}]
    importing = Session(engine)
    importing.begin()
    import_preferences(importing, project_id, io.BytesIO(_lines(range(3))), ImportFormat.pairs)

    def generate_side() -> None:
        try:
            with Session(engine) as session, session.begin():
                found.append(get_or_create_prompt(session, project_id, messages, "model").id)
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=generate_side)
    writer.start()
    writer.join(timeout=1.0)
    # Still waiting: the import holds the project's content until it commits.
    assert writer.is_alive() and not found
    imported = importing.scalar(
        select(Prompt.id).where(
            Prompt.project_id == project_id, Prompt.content_hash == messages_hash(messages)
        )
    )
    importing.commit()
    importing.close()
    writer.join(timeout=30)
    assert errors == []
    assert found == [imported]
