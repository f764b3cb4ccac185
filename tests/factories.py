"""Plain factory functions with keyword defaults; each flushes, none commits."""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.models import ApiToken, Comparison, Label, Project, Prompt, Response, Role, User
from app.queries import users as user_queries

_seq = itertools.count(1)
PASSWORD = "correct horse battery"


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def make_user(
    session: Session,
    *,
    username: str | None = None,
    role: Role | str = Role.annotator,
    password: str | None = PASSWORD,
    is_active: bool = True,
) -> User:
    user = user_queries.create_user(session, username or f"user{next(_seq)}", Role(role), password)
    user.is_active = is_active
    session.flush()
    return user


def make_token(session: Session, user: User, *, name: str = "test") -> tuple[ApiToken, str]:
    return user_queries.create_token(session, user, name)


def make_project(session: Session, *, name: str | None = None, **fields: Any) -> Project:
    project = Project(
        name=name or f"project {next(_seq)}",
        guidelines=fields.pop("guidelines", "Prefer the more helpful answer."),
        labels_per_comparison=fields.pop("labels_per_comparison", 1),
        generation_settings={},
        training_settings={},
        **fields,
    )
    session.add(project)
    session.flush()
    return project


def make_prompt(
    session: Session, project: Project, *, messages: list[dict[str, str]] | None = None
) -> Prompt:
    messages = messages or [{"role": "user", "content": f"Question {next(_seq)}?"}]
    prompt = Prompt(project_id=project.id, messages=messages, content_hash=_hash(messages))
    session.add(prompt)
    session.flush()
    return prompt


def make_response(session: Session, prompt: Prompt, *, text: str | None = None) -> Response:
    text = text or f"Answer {next(_seq)}."
    response = Response(prompt_id=prompt.id, text=text, content_hash=_hash(text), source="test")
    session.add(response)
    session.flush()
    return response


def make_comparison(
    session: Session,
    project: Project,
    *,
    prompt: Prompt | None = None,
    text_a: str | None = None,
    text_b: str | None = None,
    priority: int = 0,
) -> Comparison:
    prompt = prompt or make_prompt(session, project)
    a = make_response(session, prompt, text=text_a)
    b = make_response(session, prompt, text=text_b)
    comparison = Comparison(
        project_id=project.id,
        prompt_id=prompt.id,
        response_a_id=a.id,
        response_b_id=b.id,
        pair_hash=_hash(sorted([a.id, b.id])),
        priority=priority,
        source="test",
    )
    session.add(comparison)
    session.flush()
    return comparison


def make_label(
    session: Session,
    comparison: Comparison,
    *,
    annotator: User | None = None,
    choice: str = "better",
    **fields: Any,
) -> Label:
    label = Label(
        comparison_id=comparison.id,
        annotator_id=annotator.id if annotator else None,
        source="human" if annotator else "import:test",
        choice=choice,
        idempotency_key=fields.pop("idempotency_key", uuid.uuid4().hex),
        **fields,
    )
    session.add(label)
    comparison.label_count += 1
    session.flush()
    return label
