"""Prompts, responses and comparisons, de-duplicated by content hash within a project."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.content import messages_hash, pair_hash, text_hash
from app.models import Comparison, Prompt, Response


def get_or_create_prompt(
    session: Session, project_id: int, messages: Sequence[dict[str, str]], source: str
) -> Prompt:
    digest = messages_hash(messages)
    prompt = session.scalar(
        select(Prompt).where(Prompt.project_id == project_id, Prompt.content_hash == digest)
    )
    if prompt is None:
        prompt = Prompt(
            project_id=project_id, messages=list(messages), content_hash=digest, source=source
        )
        session.add(prompt)
        session.flush()
    return prompt


def get_or_create_response(
    session: Session, prompt: Prompt, text: str, source: str, model_version_id: int | None = None
) -> Response:
    digest = text_hash(text)
    response = session.scalar(
        select(Response).where(Response.prompt_id == prompt.id, Response.content_hash == digest)
    )
    if response is None:
        response = Response(
            prompt_id=prompt.id,
            text=text,
            content_hash=digest,
            source=source,
            model_version_id=model_version_id,
        )
        session.add(response)
        session.flush()
    return response


def add_comparison(
    session: Session,
    project_id: int,
    prompt: Prompt,
    response_a: Response,
    response_b: Response,
    *,
    source: str,
    priority: int = 0,
) -> tuple[Comparison, bool]:
    """The comparison of these two responses, and whether it was created now."""
    digest = pair_hash(prompt.content_hash, response_a.content_hash, response_b.content_hash)
    existing = session.scalar(
        select(Comparison).where(
            Comparison.project_id == project_id, Comparison.pair_hash == digest
        )
    )
    if existing is not None:
        return existing, False
    comparison = Comparison(
        project_id=project_id,
        prompt_id=prompt.id,
        response_a_id=response_a.id,
        response_b_id=response_b.id,
        pair_hash=digest,
        priority=priority,
        source=source,
        label_count=0,
    )
    session.add(comparison)
    session.flush()
    return comparison, True
