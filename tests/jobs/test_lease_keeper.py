"""The heartbeat: renews leases, notices cancels and lost leases, and tells training to stop."""

from __future__ import annotations

import threading

from sqlalchemy import update

from app.models import Job
from app.queries import jobs as job_queries
from tests.factories import make_project
from tests.jobs.conftest import JobDatabase
from trainer.jobs.context import DatabaseJobContext, LeaseKeeper


def _claimed(job_db: JobDatabase, worker: str) -> int:
    with job_db.session() as session, session.begin():
        project = make_project(session)
        job = job_queries.enqueue_job(
            session, project_id=project.id, kind="reward", params={}, max_attempts=3
        )
        assert job_queries.claim_job(session, job.id, worker, 60) is not None
        return job.id


def test_keeper_sees_cancel_and_lost_leases(job_db: JobDatabase) -> None:
    keeper = LeaseKeeper(job_db.sessions, "keeper-w", lease_s=60)
    stop = threading.Event()
    cancelled_id = _claimed(job_db, "keeper-w")
    stolen_id = _claimed(job_db, "keeper-w")
    contexts = {
        job_id: DatabaseJobContext(
            job_id, None, "keeper-w", job_db.sessions, job_db.settings.model_dir, stop, keeper
        )
        for job_id in (cancelled_id, stolen_id)
    }
    for job_id in contexts:
        keeper.hold(job_id)
    keeper.beat()
    assert not any(ctx.should_stop() for ctx in contexts.values())

    with job_db.session() as session, session.begin():
        job_queries.request_cancel(session, session.get_one(Job, cancelled_id))
        # Another worker re-queued and took this one after our lease had run out.
        session.execute(update(Job).where(Job.id == stolen_id).values(lease_owner="other"))
    keeper.beat()
    assert contexts[cancelled_id].cancel_seen and not contexts[cancelled_id].lease_lost
    assert contexts[stolen_id].lease_lost and not contexts[stolen_id].cancel_seen
    assert all(ctx.should_stop() for ctx in contexts.values())
