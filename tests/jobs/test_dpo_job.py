"""dpo jobs end to end in an in-process worker: tiny real training on the trusted labels, a
policy version whose parent is the policy it started from, and iterate with method dpo."""

from __future__ import annotations

import itertools
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AnnotatorStatus, Comparison, Job, ModelVersion, Project, Prompt
from app.queries import jobs as job_queries
from app.queries import model_versions as version_queries
from app.queries import quality as quality_queries
from app.queries.held_out import is_held_out
from tests.factories import make_comparison, make_label, make_project, make_prompt, make_user
from tests.jobs.conftest import JobDatabase
from tests.jobs.seed import labelled_project
from tests.jobs.test_generation_jobs import GENERATION, _pairs

DPO = {
    "epochs": 2,
    "batch_size": 4,
    "learning_rate": 5e-3,
    "lora_r": 4,
    "lora_alpha": 8,
    "max_length": 96,
    "val_fraction": 0.25,
}


def _enqueue(job_db: JobDatabase, project_id: int, kind: str, params: dict[str, object]) -> int:
    with job_db.session() as session, session.begin():
        return job_queries.enqueue_job(
            session, project_id=project_id, kind=kind, params=params, max_attempts=2
        ).id


def _prompt(session: Session, project: Project, held_out: bool) -> Prompt:
    """A prompt that falls in the held-out evaluation share, or one that does not."""
    for n in itertools.count():
        messages = [{"role": "user", "content": f"question {uuid.uuid4().hex[:6]} {n}?"}]
        prompt = make_prompt(session, project, messages=messages)
        if is_held_out(prompt.content_hash) == held_out:
            return prompt
        session.delete(prompt)
        session.flush()
    raise AssertionError("unreachable")


def _trainable_pairs(session: Session, project_id: int) -> int:
    """The seed's strict preferences on training prompts: what DPO must train on."""
    rows = session.execute(
        select(Prompt.content_hash)
        .join(Comparison, Comparison.prompt_id == Prompt.id)
        .where(Comparison.project_id == project_id, Comparison.source == "test")
    ).all()
    return sum(1 for (h,) in rows if not is_held_out(h))


def test_dpo_job_trains_on_trusted_labels_and_registers_a_child_policy(
    job_db: JobDatabase,
) -> None:
    with job_db.session() as session, session.begin():
        project = labelled_project(session, comparisons=12, ties=0)
        expected = _trainable_pairs(session, project.id)
        tie = make_comparison(session, project, prompt=_prompt(session, project, False))
        make_label(session, tie, choice="same")
        cheat = make_user(session)
        for _ in range(3):
            make_label(session, make_comparison(session, project), annotator=cheat)
        quality_queries.set_status(
            session, project.id, cheat.id, AnnotatorStatus.suspended,
            reasons=["suspended by test"], actor="admin:test", manual=True,
        )  # fmt: skip
        gold = make_comparison(session, project)
        gold.gold_choice = "better"
        make_label(session, gold, choice="better")
        blind = make_comparison(session, project)
        blind.evaluation = True
        make_label(session, blind, choice="better")
        held = make_comparison(session, project, prompt=_prompt(session, project, True))
        make_label(session, held, choice="worse")
        project_id = project.id
    job_id = _enqueue(job_db, project_id, "dpo", DPO)

    assert job_db.run_worker_once() == 1

    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.progress, job.error) == ("succeeded", 1.0, None)
        version = version_queries.version_for_job(session, job_id)
        assert version is not None and version.kind == "policy"
        parent = session.get_one(ModelVersion, version.parent_id)
        # Started from the project's policy: the default's version row, made on first use.
        assert parent.job_id is None and parent.kind == "policy"
        assert session.get_one(Project, project_id).policy_version_id == version.id
        metrics = version.metrics
        assert metrics["n_labels"] == expected  # no tie, cheat, gold, blind or held-out pair
        assert metrics["left_out_flagged_labels"] == 3 and metrics["left_out_gold_comparisons"]
        assert metrics["left_out_held_out"] == 1 + 12 - expected and metrics["left_out_ties"] == 1
        assert 0 <= metrics["accuracy"] <= 1 and metrics["n_val"] >= 1
        for name in ("loss", "rewards/chosen", "rewards/margins", "logps/chosen", "kl"):
            assert name in metrics and name in job.metrics
        assert version.params["policy_version_id"] == parent.id
        assert version.params["beta"] == 0.1 and version.params["method"] == "dpo"
        assert job.attempts == 1 and job.lease_owner is None


def test_dpo_job_from_a_given_version_names_it_as_parent(job_db: JobDatabase) -> None:
    with job_db.session() as session, session.begin():
        project = labelled_project(session, comparisons=6, ties=1)
        start = ModelVersion(
            project_id=project.id, kind="policy", name=f"start-{uuid.uuid4().hex[:6]}",
            base_model="tiny", path=job_db.settings.policy_model,
        )  # fmt: skip
        session.add(start)
        session.flush()
        project_id, start_id = project.id, start.id
    job_id = _enqueue(
        job_db, project_id, "dpo", {**DPO, "epochs": 1, "policy_version_id": start_id}
    )
    job_db.run_worker_once()
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "succeeded", job.error
        version = version_queries.version_for_job(session, job_id)
        assert version is not None and version.parent_id == start_id


def test_dpo_job_without_labelled_pairs_fails_saying_what_to_do(job_db: JobDatabase) -> None:
    with job_db.session() as session, session.begin():
        project = make_project(session, name=f"ties only {uuid.uuid4().hex[:6]}")
        make_label(session, make_comparison(session, project), choice="same")
        project_id = project.id
    job_id = _enqueue(job_db, project_id, "dpo", DPO)
    job_db.run_worker_once()
    with job_db.session() as session:
        job = session.get_one(Job, job_id)
        assert job.status == "failed" and job.attempts == 1
        assert "no labelled pairs" in (job.error or "")
        assert "import labelled preferences" in (job.error or "")
        assert version_queries.version_for_job(session, job_id) is None


def test_iterate_with_dpo_trains_then_generates_from_the_new_version(
    job_db: JobDatabase,
) -> None:
    with job_db.session() as session, session.begin():
        project_id = labelled_project(session, comparisons=8).id
    params = {
        "method": "dpo",
        "dpo": {**DPO, "epochs": 1},
        "generate": {**GENERATION, "max_prompts": 4},
    }
    parent_id = _enqueue(job_db, project_id, "iterate", params)
    job_db.run_worker_once()

    with job_db.session() as session:
        parent = session.get_one(Job, parent_id)
        assert parent.status == "succeeded", parent.error
        assert parent.progress == 1.0 and "dpo/accuracy" in parent.metrics
        children = job_queries.child_jobs(session, parent_id)
        assert [(c.kind, c.status) for c in children] == [
            ("dpo", "succeeded"),
            ("generate", "succeeded"),
        ]
        tuned = version_queries.version_for_job(session, children[0].id)
        assert tuned is not None and tuned.parent_id is not None
        assert children[1].params["policy_version_id"] == tuned.id
        assert session.get_one(Project, project_id).policy_version_id == tuned.id
    pairs = _pairs(job_db, children[1].id)
    assert pairs and all(va == vb == tuned.id for _, _, va, vb in pairs)
