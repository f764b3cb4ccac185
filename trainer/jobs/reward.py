"""``reward`` jobs: a Bradley-Terry reward model on the project's labels."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from app.models import ModelKind
from app.queries import training_data
from app.schemas.jobs import RewardParams
from trainer.default_models import reward_base_path
from trainer.jobs.spec import JobError, JobRun
from trainer.reward.data import PreferenceExample
from trainer.reward.train import RewardConfig, train_reward_model

# Required score gap (in reward units) for a label given with a strength: a "much better"
# answer should win by more than a "slightly better" one (Llama 2's margin loss).
MARGIN_BY_STRENGTH = {"slightly": 1 / 3, "much": 1.0}


def preference_examples(
    session: Session, project_id: int, *, include_evaluation: bool = False
) -> list[PreferenceExample]:
    """Every label of the project (human and imported) as one example, grouped by comparison;
    the labels of blind evaluation pairs only when asked for."""
    return [
        PreferenceExample(
            prompt=row.prompt,
            response_a=row.response_a,
            response_b=row.response_b,
            choice=row.choice,
            margin=MARGIN_BY_STRENGTH.get(row.strength) if row.strength else None,
            group=row.comparison_id,
        )
        for row in training_data.preference_rows(
            session, project_id, include_evaluation=include_evaluation
        )
    ]


def run_reward(run: JobRun) -> None:
    params = RewardParams.model_validate(run.job.params)
    base_model = params.base_model or run.settings.reward_model
    final = run.store.final_dir("reward", run.job.id)
    if not run.store.is_complete(final):
        with run.reading() as session:
            examples = preference_examples(
                session, run.job.project_id, include_evaluation=params.include_evaluation
            )
        comparisons = len({e.group for e in examples})
        if comparisons < params.min_labels:
            raise JobError(
                f"the project has {comparisons} labelled comparisons; "
                f"a reward model needs at least {params.min_labels}"
            )
        config = RewardConfig(**params.config_fields())
        manifest: dict[str, Any] = {
            "kind": "reward",
            "job_id": run.job.id,
            "base_model": base_model,
        }
        with run.store.building(final, manifest) as tmp:
            metrics = train_reward_model(
                examples, reward_base_path(base_model), config, run.ctx, tmp
            )
            metrics = {**metrics, "n_labels": float(len(examples)), "n_comparisons": comparisons}
            manifest.update(metrics=metrics, params={"base_model": base_model, **asdict(config)})
    run.register_result(final, ModelKind.reward)
