"""PPO hyper-parameters, copied into the job row and into every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from trainer.ppo.tensor_ops import KLEstimator


@dataclass(frozen=True)
class PPOConfig:
    # PPO steps (rollout + update); each step samples batch_size prompts per process.
    total_steps: int = 100
    # Prompts per rollout on each process; one response each.
    batch_size: int = 16
    # Mini-batches per PPO epoch; batch_size must be a multiple of it.
    num_mini_batches: int = 2
    # Passes over each rollout batch, shuffled anew each time.
    ppo_epochs: int = 4
    # AdamW learning rate of the LoRA adapter and value head (LoRA wants more than full tuning).
    learning_rate: float = 5e-5
    # Linear decay of the learning rate to 0 over total_steps (Huang et al.: "anneal lr").
    anneal_lr: bool = True
    # Gradient norm clip per optimiser step.
    max_grad_norm: float = 1.0
    # Longest response, in tokens.
    response_length: int = 64
    # Prompts longer than this lose their oldest tokens.
    max_prompt_tokens: int = 512
    # Sampling temperature; log-probs are taken from logits divided by it, as sampled.
    temperature: float = 0.7
    # beta: weight of the per-token KL penalty to the frozen reference policy.
    kl_coef: float = 0.05
    # Per-token KL estimator in the penalty: "k1" (log p - log q) or "k3" (never negative).
    kl_estimator: KLEstimator = "k1"
    # Adaptive KL control (Ziegler et al. 2019): steer beta towards this KL per response, or None.
    kl_target: float | None = None
    # Episodes over which the adaptive controller corrects its error (larger: gentler).
    kl_horizon: int = 10_000
    # Over-optimisation guard: stop once a rollout's mean KL per response exceeds this (nats).
    kl_budget: float | None = 20.0
    # Discount over response tokens; 1 since the reward arrives once, at the end.
    gamma: float = 1.0
    # GAE lambda: bias/variance trade-off of advantage estimates.
    lam: float = 0.95
    # Policy ratio clip range epsilon.
    clip_range: float = 0.2
    # How far a value prediction may move from its rollout value before clipping.
    clip_range_value: float = 0.2
    # Weight of the value loss next to the policy loss (they share the transformer).
    vf_coef: float = 0.1
    # Subtracted from the score of a response that hit response_length without ending.
    missing_eos_penalty: float = 1.0
    # LoRA rank and scaling of the adapter that PPO trains; the reference is the base without it.
    lora_r: int = 16
    lora_alpha: int = 32
    # Modules that get an adapter ("all-linear": every linear layer but the output head).
    lora_target_modules: str = "all-linear"
    # Seed of sampling, prompt order and mini-batch shuffles.
    seed: int = 0
    # Prompts held out of training to compare the old and new policy on at the end.
    eval_prompts: int = 16
    # Save a checkpoint every this many steps (and always when asked to stop).
    checkpoint_every: int = 10
    # Keep a few sample generations for the job page every this many steps.
    sample_every: int = 10

    def __post_init__(self) -> None:
        if self.batch_size % self.num_mini_batches:
            raise ValueError("batch_size must be a multiple of num_mini_batches")
        if self.temperature <= 0:
            raise ValueError("temperature must be > 0")
        if self.kl_estimator not in ("k1", "k3"):
            raise ValueError("kl_estimator must be 'k1' or 'k3'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PPOConfig:
        """A config from job parameters; unknown keys are an error, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown PPO parameters: {sorted(unknown)}")
        return cls(**values)
