"""The database-backed ``JobContext`` and the heartbeat that keeps a worker's leases alive."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.queries import jobs as job_queries

log = logging.getLogger(__name__)


class LeaseKeeper:
    """A thread renewing every lease its worker holds, every ``lease_s / 3`` seconds.

    It also learns from the database which held jobs were asked to cancel, and which leases
    were lost (another worker re-queued the job after this one stalled past its lease).
    """

    def __init__(self, sessions: sessionmaker[Session], worker_id: str, lease_s: float) -> None:
        self.sessions = sessions
        self.worker_id = worker_id
        self.lease_s = lease_s
        self._lock = threading.Lock()
        self._held: set[int] = set()
        self._cancelled: set[int] = set()
        self._lost: set[int] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.lease_s)

    def hold(self, job_id: int) -> None:
        with self._lock:
            self._held.add(job_id)
            self._cancelled.discard(job_id)
            self._lost.discard(job_id)

    def release(self, job_id: int) -> None:
        with self._lock:
            self._held.discard(job_id)

    def note_cancel(self, job_id: int) -> None:
        with self._lock:
            self._cancelled.add(job_id)

    def cancelled(self, job_id: int | None) -> bool:
        with self._lock:
            return job_id in self._cancelled

    def lost(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._lost

    def beat(self) -> None:
        # Only jobs held before the query can be judged by its answer: a job claimed while
        # it ran is simply not in it yet.
        with self._lock:
            before = set(self._held)
        try:
            with self.sessions() as session, session.begin():
                flags = job_queries.renew_leases(session, self.worker_id, self.lease_s)
        except Exception as exc:  # the database may be briefly away; the lease has slack
            log.warning("lease renewal failed: %s", type(exc).__name__)
            return
        with self._lock:
            for job_id in self._held & before:
                if job_id not in flags:
                    self._lost.add(job_id)
                elif flags[job_id]:
                    self._cancelled.add(job_id)

    def _run(self) -> None:
        while not self._done.wait(self.lease_s / 3):
            self.beat()


class DatabaseJobContext:
    """``trainer.context.JobContext`` for a job run by the worker: reports go to the database.

    Each report is its own short transaction, refused with ``LeaseLost`` once the job is no
    longer this worker's. Training stops between steps when the worker is asked to stop, when
    the job (or the job it is a step of) is cancelled, or when the lease was lost.
    """

    def __init__(
        self,
        job_id: int,
        parent_job_id: int | None,
        worker_id: str,
        sessions: sessionmaker[Session],
        checkpoint_dir: Path,
        stop_event: threading.Event,
        keeper: LeaseKeeper,
    ) -> None:
        self.job_id = job_id
        self.parent_job_id = parent_job_id
        self.worker_id = worker_id
        self.sessions = sessions
        self.checkpoint_dir = checkpoint_dir
        self.stop_event = stop_event
        self.keeper = keeper

    def report(self, step: int, progress: float, metrics: dict[str, float]) -> None:
        with self.sessions() as session, session.begin():
            cancel = job_queries.record_progress(
                session, self.job_id, self.worker_id, step, progress, metrics
            )
        if cancel:
            self.keeper.note_cancel(self.job_id)

    def log_samples(self, step: int, samples: Sequence[dict[str, str | float]]) -> None:
        with self.sessions() as session, session.begin():
            job_queries.record_samples(session, self.job_id, self.worker_id, step, samples)

    @property
    def cancel_seen(self) -> bool:
        return self.keeper.cancelled(self.job_id) or self.keeper.cancelled(self.parent_job_id)

    @property
    def lease_lost(self) -> bool:
        return self.keeper.lost(self.job_id)

    def should_stop(self) -> bool:
        return self.stop_event.is_set() or self.cancel_seen or self.lease_lost
