"""An admin's decisions about an annotator in a project: suspend and reinstate.

One home for both: the REST endpoints and the quality dashboard's buttons call these, so the
recorded actor, reasons and the `manual` mark (which the automatic rules respect, see
``recompute._decide``) are the same whichever way an admin acted.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import AnnotatorStatus, User
from app.queries import quality as quality_queries


def suspend(session: Session, project_id: int, user_id: int, admin: User, reason: str) -> None:
    """No more pairs of the project for the annotator, their labels left out of training;
    the automatic rules never lift it."""
    quality_queries.set_status(
        session,
        project_id,
        user_id,
        AnnotatorStatus.suspended,
        reasons=[f"suspended by {admin.username}: {reason}"],
        actor=f"admin:{admin.username}",
        actor_id=admin.id,
        reason=reason,
        manual=True,
    )


def reinstate(session: Session, project_id: int, user_id: int, admin: User, reason: str) -> None:
    """Lifts a suspension or a flag: the annotator rates again and their labels count; the
    rules raise no more than `watch` for them afterwards."""
    quality_queries.set_status(
        session,
        project_id,
        user_id,
        AnnotatorStatus.ok,
        reasons=[f"reinstated by {admin.username}: {reason}"],
        actor=f"admin:{admin.username}",
        actor_id=admin.id,
        reason=reason,
        manual=True,
    )
