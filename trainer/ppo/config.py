"""PPO hyper-parameters, copied into the job row and into every checkpoint.

Torch-free: the launch entry point's flags (and their ``--help``) come from these fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# Per-token KL estimators (Schulman's k1 and k3), torch-free so configs and flags need no torch.
KLEstimator = Literal["k1", "k3"]


@dataclass(frozen=True)
class PPOConfig:
    total_steps: int = field(
        default=100,
        metadata={
            "help": "PPO steps (rollout + update); each step samples batch_size prompts per process."
        },
    )
    batch_size: int = field(
        default=16,
        metadata={"help": "Prompts per rollout on each process; one response each."},
    )
    num_mini_batches: int = field(
        default=2,
        metadata={"help": "Mini-batches per PPO epoch; batch_size must be a multiple of it."},
    )
    ppo_epochs: int = field(
        default=4,
        metadata={"help": "Passes over each rollout batch, shuffled anew each time."},
    )
    learning_rate: float = field(
        default=5e-5,
        metadata={
            "help": "AdamW learning rate of the LoRA adapter and value head (LoRA wants more than full tuning)."
        },
    )
    anneal_lr: bool = field(
        default=True,
        metadata={
            "help": 'Linear decay of the learning rate to 0 over total_steps (Huang et al.: "anneal lr").'
        },
    )
    max_grad_norm: float = field(
        default=1.0,
        metadata={"help": "Gradient norm clip per optimiser step."},
    )
    response_length: int = field(
        default=64,
        metadata={"help": "Longest response, in tokens."},
    )
    max_prompt_tokens: int = field(
        default=512,
        metadata={"help": "Prompts longer than this lose their oldest tokens."},
    )
    temperature: float = field(
        default=0.7,
        metadata={
            "help": "Sampling temperature; log-probs are taken from logits divided by it, as sampled."
        },
    )
    kl_coef: float = field(
        default=0.05,
        metadata={
            "help": "beta: weight of the per-token KL penalty to the frozen reference policy."
        },
    )
    kl_estimator: KLEstimator = field(
        default="k1",
        metadata={
            "help": 'Per-token KL estimator in the penalty: "k1" (log p - log q) or "k3" (never negative).'
        },
    )
    kl_target: float | None = field(
        default=None,
        metadata={
            "help": "Adaptive KL control (Ziegler et al. 2019): steer beta towards this KL per response, or None."
        },
    )
    kl_horizon: int = field(
        default=10_000,
        metadata={
            "help": "Episodes over which the adaptive controller corrects its error (larger: gentler)."
        },
    )
    kl_budget: float | None = field(
        default=20.0,
        metadata={
            "help": "Over-optimisation guard: stop once a rollout's mean KL per response exceeds this (nats)."
        },
    )
    gamma: float = field(
        default=1.0,
        metadata={
            "help": "Discount over response tokens; 1 since the reward arrives once, at the end."
        },
    )
    lam: float = field(
        default=0.95,
        metadata={"help": "GAE lambda: bias/variance trade-off of advantage estimates."},
    )
    clip_range: float = field(
        default=0.2,
        metadata={"help": "Policy ratio clip range epsilon."},
    )
    clip_range_value: float = field(
        default=0.2,
        metadata={
            "help": "How far a value prediction may move from its rollout value before clipping."
        },
    )
    vf_coef: float = field(
        default=0.1,
        metadata={
            "help": "Weight of the value loss next to the policy loss (they share the transformer)."
        },
    )
    missing_eos_penalty: float = field(
        default=1.0,
        metadata={
            "help": "Subtracted from the score of a response that hit response_length without ending."
        },
    )
    lora_r: int = field(
        default=16,
        metadata={
            "help": "LoRA rank of the adapter that PPO trains; the reference is the base without it."
        },
    )
    lora_alpha: int = field(
        default=32,
        metadata={
            "help": "LoRA scaling numerator: the adapter's output is scaled by lora_alpha / lora_r."
        },
    )
    lora_target_modules: str = field(
        default="all-linear",
        metadata={
            "help": 'Modules that get an adapter ("all-linear": every linear layer but the output head).'
        },
    )
    seed: int = field(
        default=0,
        metadata={"help": "Seed of sampling, prompt order and mini-batch shuffles."},
    )
    eval_prompts: int = field(
        default=16,
        metadata={
            "help": "Prompts held out of training to compare the old and new policy on at the end."
        },
    )
    checkpoint_every: int = field(
        default=10,
        metadata={
            "help": "Save a checkpoint every this many steps (and always when asked to stop)."
        },
    )
    sample_every: int = field(
        default=10,
        metadata={"help": "Keep a few sample generations for the job page every this many steps."},
    )

    def __post_init__(self) -> None:
        if self.batch_size % self.num_mini_batches:
            raise ValueError("batch_size must be a multiple of num_mini_batches")
        if self.temperature <= 0:
            raise ValueError("temperature must be > 0")
        if self.kl_estimator not in ("k1", "k3"):
            raise ValueError("kl_estimator must be 'k1' or 'k3'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
