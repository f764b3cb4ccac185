"""Prompts listed in a job's parameters; the project's own come from `app.queries.content`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.content import ContentError, normalise_messages
from app.queries.content import get_or_create_prompt
from app.schemas.jobs import Message
from trainer.jobs.spec import JobError


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
