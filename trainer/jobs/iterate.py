"""``iterate`` jobs: one turn of the loop, each step a visible child job: reward -> ppo ->
generate, or with ``method: dpo`` dpo -> generate (the policy learns from the labels straight).

The parent creates each child when the step before it succeeded and runs it in this worker
(created and claimed in one transaction, so no other worker takes it first). A re-claimed
parent picks up where it stopped: finished children are skipped, a queued one is claimed
again, one that another worker holds is waited for.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import Job, JobStatus
from app.queries import jobs as job_queries
from app.queries import model_versions as version_queries
from app.schemas.jobs import IterateParams
from trainer.context import JobInterrupted
from trainer.jobs.spec import JobError, JobRun

STEPS = {"ppo": ("reward", "ppo", "generate"), "dpo": ("dpo", "generate")}


def run_iterate(run: JobRun) -> None:
    params = IterateParams.model_validate(run.job.params)
    steps = STEPS[params.method]
    previous: int | None = None
    for index, kind in enumerate(steps):
        child_id = run_step(run, kind, params, previous)
        with run.transaction() as session:
            child = session.get_one(Job, child_id)
            numbers = {f"{kind}/{k}": v for k, v in child.metrics.items() if v is not None}
            job_queries.record_progress(
                session, run.job.id, run.worker_id, index + 1, (index + 1) / len(steps), numbers
            )
        previous = child_id
    with run.transaction() as session:
        job_queries.complete_job(session, run.job.id, run.worker_id)


def run_step(run: JobRun, kind: str, params: IterateParams, previous: int | None) -> int:
    """Drives the child job of this step to success; returns its id."""
    while True:
        with run.transaction() as session:
            parent = job_queries.held_job(session, run.job.id, run.worker_id)
            child = job_queries.latest_child(session, parent.id, kind) or job_queries.enqueue_job(
                session,
                project_id=parent.project_id,
                kind=kind,
                params=_child_params(session, kind, params, previous),
                max_attempts=parent.max_attempts,
                created_by_id=parent.created_by_id,
                parent_job_id=parent.id,
            )
            job_queries.requeue_expired(session)
            if child.status == JobStatus.queued.value:
                job_queries.claim_job(session, child.id, run.worker_id, run.settings.job_lease_s)
            child_id, status, owner = child.id, child.status, child.lease_owner
        if status == JobStatus.running.value and owner == run.worker_id:
            status = run.run_child(child_id)
        if status == JobStatus.succeeded.value:
            return child_id
        if status == JobStatus.failed.value:
            with run.sessions() as session:
                error = session.get_one(Job, child_id).error
            raise JobError(f"the {kind} step (job {child_id}) failed: {error}")
        if status == JobStatus.cancelled.value:
            if run.ctx.cancel_seen:
                raise JobInterrupted("iterate cancelled")
            raise JobError(f"the {kind} step (job {child_id}) was cancelled")
        # Handed back, re-queued for a retry, or held by another worker: go round again.
        if run.ctx.should_stop():
            raise JobInterrupted(f"iterate stopped at its {kind} step")
        if status != JobStatus.queued.value:
            run.ctx.stop_event.wait(run.settings.worker_poll_s)


def _child_params(
    session: Session, kind: str, params: IterateParams, previous: int | None
) -> dict[str, Any]:
    if kind == "reward":
        return params.reward.model_dump(mode="json")
    if kind == "dpo":
        # The project's current policy, trained on its labels.
        return params.dpo.model_dump(mode="json")
    assert previous is not None
    made = version_queries.version_for_job(session, previous)
    if made is None:
        raise JobError(f"job {previous} succeeded without a model version")
    if kind == "ppo":
        return {**params.ppo.model_dump(mode="json"), "reward_version_id": made.id}
    return {**params.generate.model_dump(mode="json"), "policy_version_id": made.id}
