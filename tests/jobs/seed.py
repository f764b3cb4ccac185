"""Seed data for job tests, committed: projects with prompts, comparisons and labels."""

from __future__ import annotations

import itertools
import uuid

from sqlalchemy.orm import Session

from app.models import Project
from tests.factories import make_comparison, make_label, make_project, make_prompt, make_user

_seq = itertools.count(1)


def labelled_project(session: Session, *, comparisons: int = 12, ties: int = 2) -> Project:
    """A project where the longer, politer answer is B and is labelled better (plus some ties
    and some imported labels), so a reward model has something to learn."""
    project = make_project(session, name=f"jobs {uuid.uuid4().hex[:8]}")
    annotator = make_user(session, username=f"rater{uuid.uuid4().hex[:8]}")
    for i in range(comparisons):
        n = next(_seq)
        prompt = make_prompt(
            session, project, messages=[{"role": "user", "content": f"how do i cook dish {n}?"}]
        )
        comparison = make_comparison(
            session,
            project,
            prompt=prompt,
            text_a=f"no {n}",
            text_b=f"gladly! here is a careful recipe for dish {n}, step by step.",
        )
        choice = "same" if i < ties else "better"
        # Every other label is imported (no annotator): both kinds train the reward model.
        make_label(session, comparison, annotator=annotator if i % 2 else None, choice=choice)
    session.flush()
    return project


def project_with_prompts(session: Session, *, prompts: int = 4) -> Project:
    project = make_project(session, name=f"gen {uuid.uuid4().hex[:8]}")
    # Words whose prompts are training prompts: none falls in the held-out evaluation share
    # (app/queries/held_out.py), so jobs see all of them.
    for word in ["dogs", "rain", "boats", "stars", "bread", "owls", "moss", "kites"][:prompts]:
        make_prompt(
            session, project, messages=[{"role": "user", "content": f"tell me about {word}"}]
        )
    return project
