"""What a job's page shows first, by kind, and its recent log as lines of text.

Jobs keep no free-text log: their record is the status changes and one row of metrics per
logged step. The page's log is those, newest last, so it reads like a training log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.models import Job, JobMetric

# The metrics people watch for each kind, in order: (metric name, what to call it).
KEY_METRICS: dict[str, list[tuple[str, str]]] = {
    "reward": [
        ("train_loss", "Training loss"),
        ("loss", "Held-out loss"),
        ("accuracy", "Held-out accuracy"),
        ("margin", "Margin"),
    ],
    "ppo": [
        ("objective/scores", "Reward"),
        ("objective/kl", "KL"),
        ("objective/entropy", "Entropy"),
        ("response/length", "Response length"),
    ],
    # TRL's DPOTrainer names for the training steps (trainer/dpo keeps them); held-out
    # preference accuracy is `accuracy`, as for reward jobs, and `kl` the policy's KL from
    # its reference on the held-out pairs.
    "dpo": [
        ("loss", "Loss"),
        ("rewards/accuracies", "Training accuracy"),
        ("rewards/margins", "Reward margin"),
        ("accuracy", "Held-out accuracy"),
        ("kl", "KL"),
    ],
    # The names trainer/jobs/generate.py and evaluate.py write into the job's metrics.
    "generate": [("prompts", "Prompts"), ("comparisons_created", "Comparisons made")],
    "evaluate": [
        ("prompts", "Prompts"),
        ("versions", "Versions compared"),
        ("comparisons_created", "Comparisons made"),
    ],
}
LOG_LINES = 30


@dataclass(frozen=True)
class KeyMetric:
    name: str
    label: str
    value: str


def fmt(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "\u2013" if value is None else str(value)
    if value == int(value) and abs(value) < 1e9:
        return f"{int(value):,}"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.4g}"


def key_metrics(job: Job) -> list[KeyMetric]:
    return [
        KeyMetric(name, label, fmt(job.metrics.get(name)))
        for name, label in KEY_METRICS.get(job.kind, [])
    ]


def step_line(step: int, values: dict[str, Any]) -> str:
    shown = " ".join(
        f"{k}={fmt(v)}" for k, v in sorted(values.items()) if k != "samples" and v is not None
    )
    return f"step {step:>6}  {shown}"


def log_lines(job: Job, rows: list[JobMetric]) -> list[str]:
    """The job's status changes and its last logged steps, oldest first."""
    lines = [f"{job.created_at:%Y-%m-%d %H:%M:%S}  queued ({job.kind})"]
    if job.started_at:
        lines.append(f"{job.started_at:%Y-%m-%d %H:%M:%S}  started, attempt {job.attempts}")
    steps = [r for r in rows if any(k != "samples" for k in r.values)]
    if len(steps) > LOG_LINES:
        lines.append(f"... {len(steps) - LOG_LINES} earlier steps")
    lines += [step_line(r.step, r.values) for r in steps[-LOG_LINES:]]
    if job.finished_at:
        lines.append(f"{job.finished_at:%Y-%m-%d %H:%M:%S}  {job.status}")
    if job.error:
        lines.append(f"error: {job.error}")
    return lines
