"""The trainer worker: claims jobs from the database queue and runs them in this process.

One loop, in the spirit of procrastinate's worker: poll for the oldest queued job, claim it in
one short transaction, run it while a heartbeat thread renews the lease, and end it in one
final transaction. Stopping (SIGTERM/SIGINT set ``stop_event``) makes the running job save a
checkpoint at its next step and go back to the queue without using up an attempt.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.models import Job, JobStatus
from app.quality.recompute import refresh_stale_projects
from app.queries import jobs as job_queries
from trainer.context import JobInterrupted
from trainer.jobs.context import DatabaseJobContext, LeaseKeeper
from trainer.jobs.follower import follow_launches, machine_rank
from trainer.jobs.registry import handler_for
from trainer.jobs.spec import JobError, JobRun, JobSpec
from trainer.jobs.store import ModelStore

log = logging.getLogger("rlhf.worker")

# What ``execute`` reports when the job's lease went to another worker mid-run.
LOST = "lost"
# How often an idle worker looks for projects whose annotators' reliability is stale.
RELIABILITY_EVERY_S = 30.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self, settings: Settings, engine: Engine, worker_id: str, stop_event: threading.Event
    ) -> None:
        self.settings = settings
        self.worker_id = worker_id
        self.stop_event = stop_event
        self.sessions = make_sessionmaker(engine)
        self.read_sessions = make_sessionmaker(engine, read_only=True)
        self.store = ModelStore(settings.model_dir)
        self.keeper = LeaseKeeper(self.sessions, worker_id, settings.job_lease_s)
        self._reliability_at = -RELIABILITY_EVERY_S

    def run(self, once: bool = False) -> int:
        """Runs jobs until stopped (or, with ``once``, at most one); returns how many ran."""
        log.info("worker %s started (lease %ss)", self.worker_id, self.settings.job_lease_s)
        self.keeper.start()
        ran = 0
        try:
            while not self.stop_event.is_set():
                try:
                    spec = self.claim()
                except DBAPIError as exc:
                    log.warning("cannot claim a job, database unavailable: %s", type(exc).__name__)
                    self.stop_event.wait(max(self.settings.worker_poll_s, 1.0))
                    continue
                if spec is None:
                    if once:
                        break
                    self.refresh_reliability()
                    self.stop_event.wait(self.settings.worker_poll_s)
                    continue
                self.execute(spec)
                ran += 1
                if once:
                    break
        finally:
            self.keeper.stop()
        log.info("worker %s stopped after %d job(s)", self.worker_id, ran)
        return ran

    def refresh_reliability(self) -> None:
        """While idle, at most every RELIABILITY_EVERY_S: recompute annotators' reliability of
        projects with enough new labels (app/quality/recompute.py), so that flags and the
        labels training trusts follow the labels even when nobody opens the table."""
        now = time.monotonic()
        if now - self._reliability_at < RELIABILITY_EVERY_S:
            return
        self._reliability_at = now
        try:
            refreshed = refresh_stale_projects(self.sessions)
        except DBAPIError as exc:
            log.warning("reliability refresh failed: %s", type(exc).__name__)
            return
        if refreshed:
            log.info("recomputed reliability of projects %s", refreshed)

    def claim(self) -> JobSpec | None:
        with self.sessions() as session, session.begin():
            job = job_queries.claim_next_job(session, self.worker_id, self.settings.job_lease_s)
            return None if job is None else JobSpec.of(job)

    def run_child(self, job_id: int) -> str:
        """Runs a child job this worker already claimed (a step of ``iterate``)."""
        with self.sessions() as session:
            job = job_queries.get_job(session, job_id)
            if job is None:
                raise JobError(f"child job {job_id} vanished")
            spec = JobSpec.of(job)
        return self.execute(spec)

    def execute(self, spec: JobSpec) -> str:
        """Runs one claimed job to its end; returns the status it was left in."""
        log.info(
            "running job %d (%s), attempt %d of %d",
            spec.id,
            spec.kind,
            spec.attempts,
            spec.max_attempts,
        )
        self.keeper.hold(spec.id)
        ctx = DatabaseJobContext(
            spec.id,
            spec.parent_job_id,
            self.worker_id,
            self.sessions,
            self.store.checkpoint_dir(spec.id),
            self.stop_event,
            self.keeper,
        )
        run = JobRun(
            job=spec,
            settings=self.settings,
            sessions=self.sessions,
            read_sessions=self.read_sessions,
            worker_id=self.worker_id,
            ctx=ctx,
            store=self.store,
            run_child=self.run_child,
        )
        try:
            handler_for(spec.kind)(run)
            status = JobStatus.succeeded.value
        except job_queries.LeaseLost:
            status = LOST
        except JobInterrupted:
            status = self._finish(lambda session: self._stopped(session, spec, ctx))
        except JobError as exc:
            log.info("job %d failed: %s", spec.id, exc)
            message = str(exc)
            status = self._finish(
                lambda session: job_queries.fail_job(session, spec.id, self.worker_id, message)
            )
        except Exception as exc:
            log.exception("job %d crashed", spec.id)
            error = "".join(traceback.format_exception_only(exc)).strip()
            status = self._finish(
                lambda session: job_queries.retry_or_fail(session, spec.id, self.worker_id, error)
            )
        finally:
            self.keeper.release(spec.id)
        if status == LOST:
            log.warning("job %d: lease lost to another worker; dropped here", spec.id)
        elif status in job_queries.FINISHED:
            # A finished job never resumes; a re-queued one keeps its checkpoint.
            shutil.rmtree(ctx.checkpoint_dir, ignore_errors=True)
        log.info("job %d: %s", spec.id, status)
        return status

    def _stopped(self, session: Session, spec: JobSpec, ctx: DatabaseJobContext) -> Job:
        """The job stopped between steps: cancelled, or handed back because the worker stops."""
        job = job_queries.held_job(session, spec.id, self.worker_id)
        if job.cancel_requested or ctx.cancel_seen:
            return job_queries.mark_cancelled(session, spec.id, self.worker_id)
        if self.stop_event.is_set():
            return job_queries.release_job(session, spec.id, self.worker_id)
        return job_queries.retry_or_fail(
            session, spec.id, self.worker_id, "training stopped without being asked to"
        )

    def _finish(self, end: Callable[[Session], Job]) -> str:
        """Applies a job's ending in one transaction; ``LOST`` when its lease is gone."""
        try:
            with self.sessions() as session, session.begin():
                return str(end(session).status)
        except job_queries.LeaseLost:
            return LOST


def run_worker(
    settings: Settings,
    stop_event: threading.Event,
    *,
    once: bool = False,
    worker_id: str | None = None,
    engine: Engine | None = None,
) -> int:
    """Runs a worker until ``stop_event`` is set; returns the number of jobs it ran. On a
    machine of rank > 0 in a multi-machine Accelerate config, the worker claims nothing and
    joins the launches of the main machine's worker instead (``trainer/jobs/follower.py``)."""
    if machine_rank(settings) > 0:
        return follow_launches(settings, stop_event)
    own_engine = engine is None
    engine = engine or make_engine(settings)
    try:
        worker = Worker(settings, engine, worker_id or default_worker_id(), stop_event)
        return worker.run(once=once)
    finally:
        if own_engine:
            engine.dispose()
