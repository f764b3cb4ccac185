"""The prompts a job works on: the project's, or a list given in the job's parameters."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.content import ContentError, normalise_messages
from app.models import Prompt
from app.queries.content import get_or_create_prompt
from app.schemas.jobs import Message
from trainer.jobs.spec import JobError


def project_prompts(
    session: Session, project_id: int, limit: int | None = None
) -> list[tuple[int, list[dict[str, str]]]]:
    """(prompt id, messages) of the project's prompts, oldest first."""
    query = select(Prompt.id, Prompt.messages).where(Prompt.project_id == project_id)
    query = query.order_by(Prompt.id)
    if limit is not None:
        query = query.limit(limit)
    return [(prompt_id, list(messages)) for prompt_id, messages in session.execute(query)]


def given_prompts(
    session: Session, project_id: int, prompts: Sequence[str | list[Message]], source: str
) -> list[tuple[int, list[dict[str, str]]]]:
    """Prompts listed in a job's parameters, stored in the project (once each)."""
    out = []
    for i, raw in enumerate(prompts):
        value = raw if isinstance(raw, str) else [m.model_dump() for m in raw]
        try:
            messages = normalise_messages(value)
        except ContentError as exc:
            raise JobError(f"prompt {i}: {exc}") from None
        prompt = get_or_create_prompt(session, project_id, messages, source)
        out.append((prompt.id, list(prompt.messages)))
    return out
