"""Held-out evaluation prompts: a fixed share of every project's prompts that no training sees.

The rule is a function of the prompt's content hash, so a prompt is set aside the moment it
arrives, by whatever path it arrives (an import, a job's prompt list, the demo), with nothing
to write and nothing to forget: the same prompt is held out in every project and on every
re-import. The hash is uniform, so the share is 1/8 of the prompts up to sampling noise.

PPO and generation draw from the training prompts (``training_prompt``); `evaluate` jobs
draw from the held-out ones (``held_out_prompt``); DPO and anything else that trains on
comparisons keeps to ``training_comparison``.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, not_, select
from sqlalchemy.orm import Session

from app.models import Comparison, Prompt

# First hex digits of a held-out prompt's SHA-256 content hash: 2 of 16.
HELD_OUT_DIGITS = ("0", "1")
HELD_OUT_SHARE = len(HELD_OUT_DIGITS) / 16


def is_held_out(content_hash: str) -> bool:
    return content_hash[:1] in HELD_OUT_DIGITS


def held_out_prompt() -> ColumnElement[bool]:
    """SQL: the prompt (``Prompt``) is an evaluation prompt; the same rule as ``is_held_out``."""
    return func.substr(Prompt.content_hash, 1, 1).in_(HELD_OUT_DIGITS)


def training_prompt() -> ColumnElement[bool]:
    return not_(held_out_prompt())


def training_comparison() -> ColumnElement[bool]:
    """SQL over ``Comparison``: a pair that policy training (DPO) may learn from: not an
    evaluation pair, and not on a held-out prompt."""
    held_out = select(Prompt.id).where(Prompt.id == Comparison.prompt_id, held_out_prompt())
    return and_(Comparison.evaluation.is_(False), not_(held_out.exists()))


Prompts = list[tuple[int, list[dict[str, str]]]]


def _prompts(
    session: Session, project_id: int, condition: ColumnElement[bool], limit: int | None
) -> Prompts:
    query = (
        select(Prompt.id, Prompt.messages)
        .where(Prompt.project_id == project_id, condition)
        .order_by(Prompt.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [(prompt_id, list(messages)) for prompt_id, messages in session.execute(query)]


def training_prompts(session: Session, project_id: int, limit: int | None = None) -> Prompts:
    """(prompt id, messages) of the project's prompts that training may use, oldest first."""
    return _prompts(session, project_id, training_prompt(), limit)


def evaluation_prompts(session: Session, project_id: int, limit: int | None = None) -> Prompts:
    """(prompt id, messages) of the project's held-out prompts, oldest first."""
    return _prompts(session, project_id, held_out_prompt(), limit)


def training_comparison_ids(session: Session, project_id: int) -> set[int]:
    """Ids of the project's comparisons that policy training may learn from
    (``training_comparison``)."""
    query = select(Comparison.id).where(Comparison.project_id == project_id, training_comparison())
    return set(session.scalars(query))
