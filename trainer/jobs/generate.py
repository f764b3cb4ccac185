"""``generate`` jobs: two responses per prompt from a policy, enqueued as comparisons."""

from __future__ import annotations

from app.content import ContentError, check_text
from app.models import ModelKind, Project, Prompt
from app.queries import jobs as job_queries
from app.queries.content import add_comparison, get_or_create_response, project_prompts
from app.schemas.jobs import GenerateParams
from trainer.generation import GenerationConfig, generate_pairs
from trainer.jobs.prompts import given_prompts
from trainer.jobs.spec import JobError, JobRun
from trainer.jobs.versions import ResolvedVersion, policy_version, version_of_kind


def run_generate(run: JobRun) -> None:
    params = GenerateParams.model_validate(run.job.params)
    with run.transaction() as session:
        project = session.get_one(Project, run.job.project_id)
        version_a = policy_version(session, run.settings, project, params.policy_version_id)
        version_b: ResolvedVersion | None = None
        if params.policy_b_version_id is not None:
            version_b = version_of_kind(
                session, run.settings, params.policy_b_version_id, ModelKind.policy, project.id
            )
        if params.prompts:
            source = f"job:{run.job.id}"
            prompts = given_prompts(
                session, project.id, params.prompts[: params.max_prompts], source
            )
        else:
            prompts = project_prompts(session, project.id, params.max_prompts)
    if not prompts:
        raise JobError("no prompts: the project has none and the job gave none")

    config = GenerationConfig(**params.config_fields())
    pairs = generate_pairs(
        version_a.path,
        version_b.path if version_b else None,
        [messages for _, messages in prompts],
        config,
        run.ctx,
    )

    created = duplicates = empty = 0
    with run.transaction() as session:
        job_queries.held_job(session, run.job.id, run.worker_id)
        for index, text_a, text_b in pairs:
            try:
                check_text(text_a, "response A")
                check_text(text_b, "response B")
            except ContentError:
                empty += 1  # an empty sample is nothing to judge
                continue
            prompt = session.get_one(Prompt, prompts[index][0])
            response_a = get_or_create_response(
                session, prompt, text_a, "model", model_version_id=version_a.id
            )
            response_b = get_or_create_response(
                session,
                prompt,
                text_b,
                "model",
                model_version_id=(version_b or version_a).id,
            )
            if response_a.id == response_b.id:
                duplicates += 1
                continue
            _, new = add_comparison(
                session,
                run.job.project_id,
                prompt,
                response_a,
                response_b,
                source=f"generate:job-{run.job.id}",
                priority=params.priority,
            )
            created += 1 if new else 0
            duplicates += 0 if new else 1
        metrics = {
            "prompts": float(len(prompts)),
            "pairs": float(len(pairs)),
            "comparisons_created": float(created),
            "duplicates": float(duplicates),
            "empty": float(empty),
            "policy_version_id": float(version_a.id),
        }
        job_queries.complete_job(session, run.job.id, run.worker_id, metrics)
