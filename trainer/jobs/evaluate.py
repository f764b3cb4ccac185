"""``evaluate`` jobs: blind comparisons between policy versions on held-out prompts.

Each version answers each prompt once; every two versions' answers to a prompt become a
comparison, A and B in a random order, marked as an evaluation pair (kept out of training)
and queued with a priority. Annotators see only the texts: a response names its version in
the database, which no annotator page or API reads. Then the reward model scores the
project's battles it has not scored yet, so its verdicts stand beside the humans'.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.content import ContentError, check_text
from app.models import ModelKind, Project, Prompt, Response
from app.queries import jobs as job_queries
from app.queries.battles import (
    current_reward_version,
    evaluation_pairs_of_job,
    evaluation_source,
)
from app.queries.content import add_comparison, get_or_create_response
from app.queries.held_out import evaluation_prompts
from app.schemas.jobs import EvaluateParams
from trainer.context import JobInterrupted
from trainer.generation import GenerationConfig, sample_responses
from trainer.jobs.battle_scores import score_battles
from trainer.jobs.prompts import given_prompts
from trainer.jobs.spec import JobError, JobRun
from trainer.jobs.versions import ResolvedVersion, version_of_kind
from trainer.policy import load_policy

# Seeds of two versions' samples lie this far apart, so their dice are independent.
VERSION_SEED_STRIDE = 1_000_003


def run_evaluate(run: JobRun) -> None:
    params = EvaluateParams.model_validate(run.job.params)
    with run.transaction() as session:
        project = session.get_one(Project, run.job.project_id)
        versions = [
            version_of_kind(session, run.settings, vid, ModelKind.policy, project.id)
            for vid in params.policy_version_ids
        ]
        if params.prompts:
            prompts = given_prompts(
                session, project.id, params.prompts[: params.max_prompts], f"job:{run.job.id}"
            )
        else:
            prompts = evaluation_prompts(session, project.id, params.max_prompts)
        reward = _reward(run, session, project, params.reward_version_id)
    if not prompts:
        raise JobError(
            "no prompts: the project has no held-out evaluation prompts yet (1/8 of its "
            "prompts are set aside as they arrive) and the job gave none"
        )

    config = GenerationConfig(**params.config_fields())
    texts = {
        v.id: _answers(run, v, k, [m for _, m in prompts], config, len(versions))
        for k, v in enumerate(versions)
    }
    metrics = _write_pairs(run, params, versions, prompts, texts)
    if reward is not None:
        metrics["scored_responses"] = float(score_battles(run, reward))
        metrics["reward_version_id"] = float(reward.id)
    with run.transaction() as session:
        job_queries.complete_job(session, run.job.id, run.worker_id, metrics)


def _reward(
    run: JobRun, session: Session, project: Project, version_id: int | None
) -> ResolvedVersion | None:
    if version_id is not None:
        return version_of_kind(session, run.settings, version_id, ModelKind.reward, project.id)
    current = current_reward_version(session, project)
    if current is None:
        return None
    return version_of_kind(session, run.settings, current.id, ModelKind.reward, project.id)


def _answers(
    run: JobRun,
    version: ResolvedVersion,
    index: int,
    prompts: Sequence[list[dict[str, str]]],
    config: GenerationConfig,
    n_versions: int,
) -> list[str]:
    """One response per prompt from this version; kept in the job's checkpoint directory, so
    a re-claimed job does not sample a finished version again."""
    saved = run.ctx.checkpoint_dir / f"answers-version-{version.id}.json"
    if saved.is_file():
        answers: list[str] = json.loads(saved.read_text())
        if len(answers) == len(prompts):
            return answers
    model, tokenizer = load_policy(version.path)
    answers = []
    batches = -(-len(prompts) // config.batch_size)
    for b, start in enumerate(range(0, len(prompts), config.batch_size)):
        if run.ctx.should_stop():
            raise JobInterrupted("evaluation stopped")
        chunk = prompts[start : start + config.batch_size]
        seed = config.seed + VERSION_SEED_STRIDE * index + start
        (texts,) = sample_responses(model, tokenizer, chunk, config, seed, n=1)
        answers.extend(texts)
        step = index * batches + b + 1
        run.ctx.report(step, 0.9 * step / (n_versions * batches), {"sampled": float(len(answers))})
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(answers))
    return answers


def _write_pairs(
    run: JobRun,
    params: EvaluateParams,
    versions: Sequence[ResolvedVersion],
    prompts: Sequence[tuple[int, list[dict[str, str]]]],
    texts: dict[int, list[str]],
) -> dict[str, float]:
    """Stores the answers and their blind comparisons in one transaction."""
    counts = dict.fromkeys(("created", "duplicates", "identical", "empty", "ambiguous"), 0)
    with run.transaction() as session:
        job_queries.held_job(session, run.job.id, run.worker_id)
        for p, (prompt_id, _) in enumerate(prompts):
            prompt = session.get_one(Prompt, prompt_id)
            stored: dict[int, Response | None] = {}
            for v in versions:
                stored[v.id] = _stored_answer(session, prompt, texts[v.id][p], v.id, counts)
            for first, second in itertools.combinations(versions, 2):
                if texts[first.id][p].strip() == texts[second.id][p].strip():
                    counts["identical"] += 1  # the same answer: nothing to judge
                    continue
                a, b = stored[first.id], stored[second.id]
                if a is None or b is None:
                    continue
                # Seeded by the job, prompt and pair: a retried job orders them the same way.
                order = random.Random(f"{params.seed}:{prompt_id}:{first.id}:{second.id}")
                if order.random() < 0.5:
                    a, b = b, a
                _, new = add_comparison(
                    session,
                    run.job.project_id,
                    prompt,
                    a,
                    b,
                    source=evaluation_source(run.job.id),
                    priority=params.priority,
                    evaluation=True,
                )
                counts["created" if new else "duplicates"] += 1
        # Counted from the table: an earlier attempt of this job may have made some.
        counts["created"] = evaluation_pairs_of_job(session, run.job.id)
    return {
        "prompts": float(len(prompts)),
        "versions": float(len(versions)),
        "comparisons_created": float(counts["created"]),
        "duplicates": float(counts["duplicates"]),
        "identical": float(counts["identical"]),
        "empty": float(counts["empty"]),
        "ambiguous": float(counts["ambiguous"]),
    }


def _stored_answer(
    session: Session, prompt: Prompt, text: str, version_id: int, counts: dict[str, int]
) -> Response | None:
    """The response row of this version's answer, or None when it cannot be judged: empty,
    or the same text stored before as another source's (its battle would be credited to the
    wrong model)."""
    try:
        check_text(text, "response")
    except ContentError:
        counts["empty"] += 1
        return None
    response = get_or_create_response(session, prompt, text, "model", model_version_id=version_id)
    if response.model_version_id != version_id:
        counts["ambiguous"] += 1
        return None
    return response
