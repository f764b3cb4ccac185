"""Running the reliability computation against the database and keeping its result.

The result is stored per project (`reliability_snapshots`) and the statuses it implies are
written to `annotator_quality` (with an event per change), so that readers never wait for
a computation: the annotators endpoint answers from the snapshot, the trl export and the
reward job read the statuses.

Staleness is bounded by `refresh_if_stale`: a read of the annotators table starts a
recomputation in the background once `STALE_LABELS` labels (or `STALE_SHARE` of the
project's labels, whichever is more) have arrived since the last one, or once it is older
than `STALE_AGE` with any new label at all. A reward job recomputes before it reads its
labels, and `rlhf annotators` recomputes unless told `--cached`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from app.models import AnnotatorStatus, Project, utcnow
from app.quality.reliability import (
    CHOICES,
    NO_GOLD,
    Activity,
    AnnotatorFigures,
    LabelTable,
    compute,
)
from app.quality.rules import SEVERITY, Verdict, judge
from app.quality.thresholds import QualityThresholds
from app.queries import quality as quality_queries

log = logging.getLogger(__name__)

STALE_LABELS = 50
STALE_SHARE = 0.02
STALE_AGE = timedelta(minutes=5)
# Without any computation yet, a project this small is computed while the request waits.
COMPUTE_INLINE_BELOW = 20_000


def _table(rows: list[tuple[int, ...]]) -> tuple[LabelTable, int]:
    """The label rows (integers, see `quality_queries.label_rows`) as arrays."""
    if not rows:
        empty = np.empty(0, dtype=np.int64)
        table = LabelTable(
            empty,
            empty,
            empty.astype(np.int8),
            empty.astype(np.bool_),
            empty.astype(np.float64),
            empty.astype(np.int8),
        )
        return table, 0
    columns = np.array(rows, dtype=np.int64).T  # (7, N)
    time_ms = columns[5].astype(np.float64)
    time_ms[columns[5] < 0] = math.nan
    table = LabelTable(
        comparison=columns[1],
        worker=columns[2],
        choice=columns[3].astype(np.int8),
        swapped=columns[4].astype(np.bool_),
        time_ms=time_ms,
        gold=np.where(columns[6] < 0, NO_GOLD, columns[6]).astype(np.int8),
    )
    return table, int(columns[0].max())


def _activity(session: Session, project_id: int) -> dict[int, Activity]:
    repeats = quality_queries.feedback_repeats(session, project_id)
    result = {}
    for user_id, (n, first, last) in quality_queries.pace(session, project_id).items():
        minutes = (last - first).total_seconds() / 60
        # Ten labels at least, and a minute: a rate over three labels says nothing.
        rate = n / minutes if n >= 10 and minutes >= 1 else None
        top, total = repeats.get(user_id, (0, 0))
        result[user_id] = Activity(rate, top, total)
    return result


def _interval(bounds: tuple[float, float] | None) -> list[float] | None:
    return None if bounds is None else [round(bounds[0], 4), round(bounds[1], 4)]


def _row(f: AnnotatorFigures, username: str, verdict: Verdict) -> dict[str, Any]:
    def r(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    return {
        "user_id": f.user_id,
        "username": username,
        "labels": f.labels,
        "gold_labels": f.gold_labels,
        "gold_accuracy": r(f.gold_accuracy),
        "gold_interval": _interval(f.gold_interval),
        "agreement": r(f.agreement),
        "agreement_interval": _interval(f.agreement_interval),
        "competence": r(f.competence),
        "competence_interval": _interval(f.competence_interval),
        "vote_weight": round(f.vote_weight, 4),
        "median_time_ms": r(f.median_time_ms),
        "left_share": r(f.left_share),
        "top_choice": CHOICES[f.top_choice],
        "top_choice_share": round(f.choice_counts[f.top_choice] / f.labels, 4),
        "labels_per_minute": r(f.activity.labels_per_minute),
        "repeated_feedback": f.activity.repeated_feedback,
        "computed_status": verdict.status.value,
        "computed_reasons": list(verdict.reasons),
    }


def _decide(
    verdict: Verdict, current: str | None, manual: bool, manual_reason: str | None
) -> tuple[AnnotatorStatus, list[str]]:
    """An admin's decision stands: a suspension is never lifted here, and after a
    reinstatement the rules raise no more than `watch`."""
    if manual and current == AnnotatorStatus.suspended.value:
        return AnnotatorStatus.suspended, [manual_reason or "suspended by an admin"]
    if manual and SEVERITY[verdict.status] > SEVERITY[AnnotatorStatus.watch]:
        note = "reinstated by an admin, so no more than watch"
        return AnnotatorStatus.watch, [*verdict.reasons, note]
    return verdict.status, list(verdict.reasons)


def recompute(session: Session, project_id: int) -> dict[str, Any]:
    """Computes the project's reliability now, applies the statuses, stores and returns the
    snapshot body. Runs in the caller's transaction."""
    started = time.perf_counter()
    computed_at = utcnow()
    project = session.get(Project, project_id)
    if project is None:
        raise LookupError(f"no project {project_id}")
    thresholds = QualityThresholds.from_overrides(project.quality_thresholds)
    table, max_label_id = _table(quality_queries.label_rows(session, project_id))
    project_figures, figures = compute(table, _activity(session, project_id))
    names = quality_queries.usernames(session, [f.user_id for f in figures])
    current = quality_queries.qualities(session, project_id)
    rows = []
    decisions = []
    for f in figures:
        verdict = judge(f, project_figures, thresholds)
        row = current.get(f.user_id)
        status, reasons = _decide(
            verdict,
            row.status if row else None,
            bool(row and row.manual),
            row.reasons[0] if row and row.reasons else None,
        )
        decisions.append((f.user_id, status, reasons, f.vote_weight))
        rows.append(_row(f, names.get(f.user_id, str(f.user_id)), verdict))
    quality_queries.apply_statuses(session, project_id, decisions, actor="reliability")
    body = {
        "computed_at": computed_at.isoformat(),
        "labels": project_figures.labels,
        "model": project_figures.model,
        "project": {
            "median_time_ms": project_figures.median_time_ms,
            "median_competence": project_figures.median_competence,
            "upper_quartile_competence": project_figures.upper_quartile_competence,
            "median_agreement": project_figures.median_agreement,
            "median_labels_per_minute": project_figures.median_labels_per_minute,
            "import_vote_weight": project_figures.import_vote_weight,
        },
        "annotators": rows,
    }
    quality_queries.claim_computation(session, project_id, computed_at)
    quality_queries.store_snapshot(
        session,
        project_id,
        computed_at=computed_at,
        labels=project_figures.labels,
        max_label_id=max_label_id,
        duration_s=time.perf_counter() - started,
        body=body,
    )
    return body


def is_stale(session: Session, project_id: int, now: datetime | None = None) -> bool:
    """Whether enough has changed since the last computation to compute again."""
    now = now or utcnow()
    snap = quality_queries.snapshot(session, project_id)
    if snap is None or snap.computed_at is None:
        return True
    threshold = max(STALE_LABELS, int(STALE_SHARE * snap.labels))
    newer = quality_queries.labels_since(session, project_id, snap.max_label_id, threshold)
    return newer >= threshold or (newer > 0 and now - snap.computed_at > STALE_AGE)


def _recompute_claimed(sessions: sessionmaker[Session], project_id: int) -> None:
    try:
        with sessions() as session, session.begin():
            recompute(session, project_id)
    except Exception:
        log.exception("reliability computation of project %s failed", project_id)
        with sessions() as session, session.begin():
            quality_queries.release_claim(session, project_id)


def refresh(session: Session, sessions: sessionmaker[Session], project_id: int) -> bool:
    """Brings the snapshot up to date if it is stale, without making the caller wait long.

    A project with no computation yet and few labels is computed at once, in `session`;
    otherwise a stale snapshot is recomputed in a background thread (on sessions of its
    own) unless another process is at it. Returns whether a background run started.
    """
    if not is_stale(session, project_id):
        return False
    snap = quality_queries.snapshot(session, project_id)
    first = snap is None or snap.computed_at is None
    small = quality_queries.labels_since(session, project_id, 0, COMPUTE_INLINE_BELOW)
    if first and small < COMPUTE_INLINE_BELOW:
        recompute(session, project_id)
        return False
    with sessions() as claiming, claiming.begin():
        if not quality_queries.claim_computation(claiming, project_id):
            return False
    thread = threading.Thread(
        target=_recompute_claimed, args=(sessions, project_id), name="reliability", daemon=True
    )
    thread.start()
    return True


def refresh_stale_projects(sessions: sessionmaker[Session]) -> list[int]:
    """Recomputes, here and now, every project whose snapshot is stale and that no other
    process is computing; the idle trainer worker calls this, which bounds staleness for
    projects nobody is looking at. Returns the projects recomputed."""
    with sessions() as session:
        project_ids = quality_queries.projects_with_labels(session)
    done = []
    for project_id in project_ids:
        with sessions() as session, session.begin():
            if not is_stale(session, project_id):
                continue
            if not quality_queries.claim_computation(session, project_id):
                continue
        _recompute_claimed(sessions, project_id)
        done.append(project_id)
    return done


def annotator_table(
    session: Session, project_id: int
) -> tuple[datetime | None, list[dict[str, Any]]]:
    """The annotators of the last computation with their current status and reasons
    (a suspension since shows at once): what the endpoint, the CLI and the console show."""
    snap = quality_queries.snapshot(session, project_id)
    if snap is None or snap.computed_at is None:
        return None, []
    current = quality_queries.qualities(session, project_id)
    rows = []
    for row in snap.body.get("annotators", []):
        quality = current.get(row["user_id"])
        status = quality.status if quality else row["computed_status"]
        reasons = quality.reasons if quality else row["computed_reasons"]
        rows.append({**row, "status": status, "reasons": list(reasons)})
    return snap.computed_at, rows
