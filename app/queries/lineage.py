"""Where each model version came from: the job that made it, the reward model a policy was
tuned against, and the labels that reward model (or a DPO job) learnt from, up to when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Job, ModelVersion

MAX_VERSIONS = 200


@dataclass(frozen=True)
class Lineage:
    version: ModelVersion
    # The job that made the version (None for a base model or one registered by hand).
    job: Job | None
    parent: ModelVersion | None
    # The reward model a PPO policy was tuned against.
    reward: ModelVersion | None
    # The labels behind it: those the reward job (for a PPO policy, its reward model's job;
    # for a DPO policy, its own job) read when it started.
    labels_until: datetime | None
    labels: int | None


def project_lineage(session: Session, project_id: int) -> list[Lineage]:
    """The project's versions, newest first, each with its lineage."""
    versions = list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.project_id == project_id)
            .order_by(ModelVersion.id.desc())
            .limit(MAX_VERSIONS)
        )
    )
    by_id = {v.id: v for v in versions}
    wanted = {v.parent_id for v in versions if v.parent_id} | {
        rid for v in versions if (rid := _reward_id(v)) is not None
    }
    missing = [i for i in wanted if i not in by_id]
    if missing:
        by_id.update(
            {
                v.id: v
                for v in session.scalars(select(ModelVersion).where(ModelVersion.id.in_(missing)))
            }
        )
    job_ids = [v.job_id for v in by_id.values() if v.job_id is not None]
    jobs = (
        {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(job_ids)))}
        if job_ids
        else {}
    )
    out = []
    for v in versions:
        job = jobs.get(v.job_id) if v.job_id is not None else None
        reward_id = _reward_id(v)
        reward = by_id.get(reward_id) if reward_id is not None else None
        # A reward version learnt from labels itself; a policy through its reward model,
        # or directly (DPO).
        source = v if v.kind == "reward" or reward is None else reward
        source_job = jobs.get(source.job_id) if source.job_id is not None else None
        labels_until = (
            source_job.started_at
            if source_job is not None and source_job.kind in ("reward", "dpo")
            else None
        )
        n_labels = source.metrics.get("n_labels") if labels_until is not None else None
        out.append(
            Lineage(
                version=v,
                job=job,
                parent=by_id.get(v.parent_id) if v.parent_id else None,
                reward=reward,
                labels_until=labels_until,
                labels=int(n_labels) if isinstance(n_labels, int | float) else None,
            )
        )
    return out


def _reward_id(version: ModelVersion) -> int | None:
    value = version.params.get("reward_version_id") if version.kind == "policy" else None
    return int(value) if isinstance(value, int) else None
