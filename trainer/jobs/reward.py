"""``reward`` jobs: a Bradley-Terry reward model on the project's labels."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.models import ModelKind
from app.quality.recompute import recompute
from app.queries import training_data
from app.queries.trusted_labels import Aggregation, Trust, left_out
from app.schemas.reward import RewardParams
from trainer.default_models import reward_base_path
from trainer.jobs.launcher import train_job
from trainer.jobs.spec import JobError, JobRun
from trainer.launching import config_flags
from trainer.reward.config import RewardConfig
from trainer.reward.data import MARGIN_BY_STRENGTH, PreferenceExample, write_pairs_jsonl
from trainer.reward.train import train_reward_model


def examples_from_rows(rows: list[training_data.PreferenceRow]) -> list[PreferenceExample]:
    """Training examples of label rows: a strength becomes a margin, the comparison the group
    (its labels stay on one side of the train/validation split)."""
    return [
        PreferenceExample(
            prompt=row.prompt,
            response_a=row.response_a,
            response_b=row.response_b,
            choice=row.choice,
            margin=MARGIN_BY_STRENGTH.get(row.strength) if row.strength else None,
            group=row.comparison_id,
        )
        for row in rows
    ]


def preference_examples(
    session: Session, project_id: int, trust: Trust | None = None
) -> list[PreferenceExample]:
    """Every trusted label of the project (human and imported) as one example, grouped by
    comparison: no gold pairs, no labels of flagged or suspended annotators unless
    `trust.include_flagged` (app/queries/trusted_labels.py)."""
    return examples_from_rows(training_data.preference_rows(session, project_id, trust=trust))


def training_examples(
    run: JobRun, params: RewardParams
) -> tuple[list[PreferenceExample], dict[str, float]]:
    """The examples the job trains on, after bringing the annotators' statuses up to date,
    and what the trust rule left out (for the job's metrics)."""
    project_id = run.job.project_id
    trust = Trust(
        include_flagged=params.include_flagged,
        aggregation=Aggregation.model if params.aggregation == "model" else Aggregation.majority,
        include_evaluation=params.include_evaluation,
    )
    with run.transaction() as session:
        # Statuses as of now, not as of the last look at the annotators table.
        recompute(session, project_id)
    with run.reading() as session:
        if params.aggregation == "labels":
            examples = preference_examples(session, project_id, trust)
        else:
            examples = examples_from_rows(
                training_data.aggregated_rows(session, project_id, trust=trust)
            )
        dropped = left_out(session, project_id, trust)
    metrics = {
        "left_out_flagged_labels": float(dropped.flagged_labels),
        "left_out_gold_comparisons": float(dropped.gold_comparisons),
    }
    return examples, metrics


def run_reward(run: JobRun) -> None:
    params = RewardParams.model_validate(run.job.params)
    base_model = params.base_model or run.settings.reward_model
    final = run.store.final_dir("reward", run.job.id)
    if not run.store.is_complete(final):
        examples, trust_metrics = training_examples(run, params)
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
        base = reward_base_path(base_model)

        def inputs(directory: Path) -> list[str]:
            data = write_pairs_jsonl(examples, directory / "pairs.jsonl")
            return ["--data", str(data), "--base-model", base, *config_flags(config)]

        with run.store.building(final, manifest) as tmp:
            metrics = train_job(
                run,
                "trainer.reward.launch",
                tmp,
                inputs,
                here=lambda: train_reward_model(examples, base, config, run.ctx, tmp),
            )
            metrics = {
                **metrics,
                **trust_metrics,
                "n_labels": float(len(examples)),
                "n_comparisons": comparisons,
            }
            manifest.update(metrics=metrics, params={"base_model": base_model, **asdict(config)})
    run.register_result(final, ModelKind.reward)
