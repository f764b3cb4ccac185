"""``ppo`` jobs: a policy version tuned against a reward version on the project's prompts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.models import ModelKind, Project
from app.queries.content import project_prompts
from app.schemas.jobs import PPOParams
from trainer.jobs.launcher import train_job
from trainer.jobs.spec import JobError, JobRun
from trainer.jobs.versions import policy_version, reward_version
from trainer.launching import config_flags
from trainer.policy import anchor_adapter_base
from trainer.ppo.config import PPOConfig
from trainer.ppo.launch import write_prompts
from trainer.ppo.train import train_ppo
from trainer.reward.scoring import RewardScorer


def run_ppo(run: JobRun) -> None:
    params = PPOParams.model_validate(run.job.params)
    with run.transaction() as session:
        project = session.get_one(Project, run.job.project_id)
        policy = policy_version(session, run.settings, project, params.policy_version_id)
        reward = reward_version(session, run.settings, project, params.reward_version_id)
        prompts = [m for _, m in project_prompts(session, project.id, params.max_prompts)]
    if len(prompts) < 2:
        raise JobError(f"PPO needs at least 2 prompts; the project has {len(prompts)}")

    final = run.store.final_dir("policy", run.job.id)
    if not run.store.is_complete(final):
        try:
            config = PPOConfig(**params.config_fields())
        except ValueError as exc:
            raise JobError(str(exc)) from None
        manifest: dict[str, Any] = {
            "kind": "policy",
            "job_id": run.job.id,
            "base_model": policy.base_model,
            "parent_id": policy.id,
            "params": {
                **config.to_dict(),
                "policy_version_id": policy.id,
                "reward_version_id": reward.id,
            },
        }

        def inputs(directory: Path) -> list[str]:
            prompts_file = write_prompts(prompts, directory / "prompts.jsonl")
            flags = ["--prompts", str(prompts_file), "--policy", policy.path]
            return [*flags, "--reward", reward.path, *config_flags(config)]

        with run.store.building(final, manifest) as tmp:
            metrics = train_job(
                run,
                "trainer.ppo.launch",
                tmp,
                inputs,
                here=lambda: train_ppo(
                    prompts, policy.path, RewardScorer(reward.path).score, config, run.ctx, tmp
                ),
            )
            anchor_adapter_base(tmp, final, run.settings.model_dir)
            manifest["metrics"] = metrics
    run.register_result(final, ModelKind.policy)
