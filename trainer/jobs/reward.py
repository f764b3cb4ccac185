"""``reward`` jobs: a Bradley-Terry reward model on the project's labels."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.models import Comparison, Label, ModelKind, Prompt, Response
from app.schemas.jobs import RewardParams
from trainer.default_models import reward_base_path
from trainer.jobs.spec import JobError, JobRun
from trainer.reward.data import PreferenceExample
from trainer.reward.train import RewardConfig, train_reward_model

# Required score gap (in reward units) for a label given with a strength: a "much better"
# answer should win by more than a "slightly better" one (Llama 2's margin loss).
MARGIN_BY_STRENGTH = {"slightly": 1 / 3, "much": 1.0}


def preference_examples(session: Session, project_id: int) -> list[PreferenceExample]:
    """Every label of the project (human and imported) as one example, grouped by comparison."""
    response_a = aliased(Response)
    response_b = aliased(Response)
    rows = session.execute(
        select(
            Label.choice,
            Label.strength,
            Comparison.id,
            Prompt.messages,
            response_a.text,
            response_b.text,
        )
        .join(Comparison, Label.comparison_id == Comparison.id)
        .join(Prompt, Comparison.prompt_id == Prompt.id)
        .join(response_a, Comparison.response_a_id == response_a.id)
        .join(response_b, Comparison.response_b_id == response_b.id)
        .where(Comparison.project_id == project_id)
        .order_by(Label.id)
    ).all()
    return [
        PreferenceExample(
            prompt=list(messages),
            response_a=text_a,
            response_b=text_b,
            choice=choice,
            margin=MARGIN_BY_STRENGTH.get(strength) if strength else None,
            group=comparison_id,
        )
        for choice, strength, comparison_id, messages, text_a, text_b in rows
    ]


def run_reward(run: JobRun) -> None:
    params = RewardParams.model_validate(run.job.params)
    base_model = params.base_model or run.settings.reward_model
    final = run.store.final_dir("reward", run.job.id)
    if not run.store.is_complete(final):
        with run.reading() as session:
            examples = preference_examples(session, run.job.project_id)
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
