"""Battles in the database: policy versions, their responses, comparisons and labels."""

from __future__ import annotations

import hashlib
import itertools
import uuid

from sqlalchemy.orm import Session

from app.models import Comparison, Label, ModelVersion, Project, Prompt, Response, User

_seq = itertools.count(1)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_version(
    session: Session,
    project: Project,
    *,
    name: str,
    kind: str = "policy",
    parent: ModelVersion | None = None,
    metrics: dict[str, float] | None = None,
) -> ModelVersion:
    version = ModelVersion(
        project_id=project.id,
        kind=kind,
        name=name,
        base_model="tiny",
        path=f"/nowhere/{name}",
        parent_id=parent.id if parent else None,
        metrics=metrics or {},
        params={},
    )
    session.add(version)
    session.flush()
    return version


def make_battle(
    session: Session,
    project: Project,
    *,
    a: ModelVersion | str,
    b: ModelVersion | str,
    choices: list[str],
    annotators: list[User | None] | None = None,
    evaluation: bool = True,
) -> Comparison:
    """One comparison of a response from ``a`` with one from ``b`` (a version, or an import
    name), labelled once per choice (B compared with A)."""
    n = next(_seq)
    text = f"Question {n} for {project.name}?"
    prompt = Prompt(
        project_id=project.id,
        messages=[{"role": "user", "content": text}],
        content_hash=_digest(text),
    )
    session.add(prompt)
    session.flush()
    responses = []
    for side, source in (("a", a), ("b", b)):
        body = f"Answer {side} {n}."
        response = Response(
            prompt_id=prompt.id,
            text=body,
            content_hash=_digest(body),
            source="model" if isinstance(source, ModelVersion) else "import:pairs",
            model_version_id=source.id if isinstance(source, ModelVersion) else None,
            model_name=None if isinstance(source, ModelVersion) else source,
        )
        session.add(response)
        responses.append(response)
    session.flush()
    comparison = Comparison(
        project_id=project.id,
        prompt_id=prompt.id,
        response_a_id=responses[0].id,
        response_b_id=responses[1].id,
        pair_hash=_digest(f"pair {n} {uuid.uuid4()}"),
        source="test",
        evaluation=evaluation,
        label_count=len(choices),
    )
    session.add(comparison)
    session.flush()
    people = annotators or [None] * len(choices)
    for choice, person in zip(choices, people, strict=True):
        session.add(
            Label(
                comparison_id=comparison.id,
                annotator_id=person.id if person else None,
                source="human" if person else "import:test",
                choice=choice,
                idempotency_key=uuid.uuid4().hex,
            )
        )
    session.flush()
    return comparison
