"""``dpo`` jobs: a policy version tuned straight on the project's labelled pairs.

The pairs are the trusted labels the reward job reads (app/queries/training_data.py: no gold
pairs, no labels of flagged or suspended annotators unless asked), minus ties, and minus
every pair on a held-out evaluation prompt or from a blind evaluation: what measures the
policies never trains one (app/queries/held_out.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.models import ModelKind, Project
from app.quality.recompute import recompute
from app.queries import training_data
from app.queries.held_out import training_comparison_ids
from app.queries.trusted_labels import Aggregation, Trust, left_out
from app.schemas.dpo import DPOParams
from trainer.dpo.config import DPOConfig
from trainer.dpo.data import strict_preferences
from trainer.dpo.train import train_dpo
from trainer.jobs.launcher import train_job
from trainer.jobs.reward import examples_from_rows
from trainer.jobs.spec import JobError, JobRun
from trainer.jobs.versions import policy_version
from trainer.launching import config_flags
from trainer.policy import anchor_adapter_base
from trainer.reward.data import PreferenceExample, write_pairs_jsonl

NO_PAIRS = (
    "the project has no labelled pairs DPO may learn from (ties, gold pairs, evaluation pairs,"
    " pairs on held-out prompts and labels of flagged annotators are left out): label some"
    " pairs or import labelled preferences (hh, trl or labelled pairs), then run DPO again"
)


def dpo_examples(
    run: JobRun, params: DPOParams
) -> tuple[list[PreferenceExample], dict[str, float]]:
    """The strict preferences the job trains on, and counts of what was left out."""
    project_id = run.job.project_id
    trust = Trust(
        include_flagged=params.include_flagged,
        aggregation=Aggregation.model if params.aggregation == "model" else Aggregation.majority,
    )
    with run.transaction() as session:
        # Annotator statuses as of now, not as of the last look at the annotators table.
        recompute(session, project_id)
    with run.reading() as session:
        if params.aggregation == "labels":
            rows = training_data.preference_rows(session, project_id, trust=trust)
        else:
            rows = training_data.aggregated_rows(session, project_id, trust=trust)
        allowed = training_comparison_ids(session, project_id)
        dropped = left_out(session, project_id, trust)
    kept = [row for row in rows if row.comparison_id in allowed]
    examples = strict_preferences(examples_from_rows(kept))
    metrics = {
        "left_out_flagged_labels": float(dropped.flagged_labels),
        "left_out_gold_comparisons": float(dropped.gold_comparisons),
        "left_out_held_out": float(len(rows) - len(kept)),
        "left_out_ties": float(len(kept) - len(examples)),
        "n_labels": float(len(examples)),
        "n_comparisons": float(len({e.group for e in examples})),
    }
    return examples, metrics


def run_dpo(run: JobRun) -> None:
    params = DPOParams.model_validate(run.job.params)
    with run.transaction() as session:
        project = session.get_one(Project, run.job.project_id)
        policy = policy_version(session, run.settings, project, params.policy_version_id)

    final = run.store.final_dir("policy", run.job.id)
    if not run.store.is_complete(final):
        try:
            config = DPOConfig(**params.config_fields())
        except ValueError as exc:
            raise JobError(str(exc)) from None
        examples, data_metrics = dpo_examples(run, params)
        if not examples:
            raise JobError(NO_PAIRS)
        manifest: dict[str, Any] = {
            "kind": "policy",
            "job_id": run.job.id,
            "base_model": policy.base_model,
            "parent_id": policy.id,
            "params": {
                **config.to_dict(),
                "method": "dpo",
                "policy_version_id": policy.id,
                "include_flagged": params.include_flagged,
                "aggregation": params.aggregation,
            },
        }

        def inputs(directory: Path) -> list[str]:
            data = write_pairs_jsonl(examples, directory / "pairs.jsonl")
            return [
                "--data", str(data), "--format", "examples", "--policy-model", policy.path,
                *config_flags(config),
            ]  # fmt: skip

        with run.store.building(final, manifest) as tmp:
            metrics = train_job(
                run,
                "trainer.dpo.launch",
                tmp,
                inputs,
                here=lambda: train_dpo(examples, policy.path, config, run.ctx, tmp),
            )
            anchor_adapter_base(tmp, final, run.settings.model_dir)
            manifest["metrics"] = {**metrics, **data_metrics}
    run.register_result(final, ModelKind.policy)
