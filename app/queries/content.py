"""Prompts, responses and comparisons, de-duplicated by content hash within a project."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from app.content import messages_hash, pair_hash, text_hash
from app.models import Comparison, Prompt, Response
from app.queries.held_out import training_prompts

# The first key of pg_advisory_xact_lock(int, int) for project content locks; the second is
# the project id. Any value works as long as nothing else in the database uses it.
CONTENT_LOCK = 0x726C6866


def lock_project_content(session: Session, project_id: int) -> None:
    """Holds the project's content lock until the transaction ends.

    Every writer of a project's prompts, responses and comparisons (imports, generation, the
    demo) takes it first. They all de-duplicate by content hash, so two of them writing the
    same content at once would otherwise deadlock on PostgreSQL's unique indexes (an import
    inserts in its file's order, another import in its own) or fail with a unique violation
    (a get-or-create that looked before the other committed). Taking it again in the same
    transaction costs a round trip and no wait. SQLite lets one writer in at a time already.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sql("SELECT pg_advisory_xact_lock(:namespace, :project)"),
            {"namespace": CONTENT_LOCK, "project": project_id},
        )


def get_or_create_prompt(
    session: Session, project_id: int, messages: Sequence[dict[str, str]], source: str
) -> Prompt:
    lock_project_content(session, project_id)
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
    lock_project_content(session, prompt.project_id)
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
    evaluation: bool = False,
) -> tuple[Comparison, bool]:
    """The comparison of these two responses, and whether it was created now.

    ``evaluation`` marks a blind evaluation pair (kept out of reward training and trl exports).
    """
    lock_project_content(session, project_id)
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
        evaluation=evaluation,
    )
    session.add(comparison)
    session.flush()
    return comparison, True


def project_prompts(
    session: Session, project_id: int, limit: int | None = None
) -> list[tuple[int, list[dict[str, str]]]]:
    """(prompt id, messages) of the project's prompts that training and generation may use,
    oldest first: never its held-out evaluation prompts (`app.queries.held_out`)."""
    return training_prompts(session, project_id, limit)
