"""Reward training hyper-parameters: torch-free, copied into the job row and the checkpoint.

Each field's ``help`` is what the launch entry point's flags and the job form show; the job
parameters in ``app/schemas/jobs.py`` (``RewardParams``) repeat names, defaults and texts,
and a test keeps the two in step (the server may not import the trainer).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class RewardConfig:
    # Defaults from bench/README.md ("Recipes"): 2 epochs at 5e-5 and 3 reward heads; the
    # length head and balance stay off (with 3 heads they taught the heads the wrong way round
    # on synthetic data).
    epochs: int = field(default=2, metadata=_help("passes over the training pairs"))
    learning_rate: float = field(
        default=5e-5, metadata=_help("peak AdamW learning rate, reached after warm-up")
    )
    batch_size: int = field(
        default=16,
        metadata=_help("pairs per optimizer step, summed over processes and accumulation"),
    )
    grad_accumulation: int = field(
        default=1,
        metadata=_help("micro-batches per process per step: less memory, same maths"),
    )
    max_tokens_per_forward: int = field(
        default=4096,
        metadata=_help("cap on padded tokens per side of a micro-batch; 0 = no cap"),
    )
    warmup_ratio: float = field(
        default=0.1,
        metadata=_help("share of all steps spent ramping the LR up from 0; then linear decay"),
    )
    weight_decay: float = field(
        default=0.0, metadata=_help("AdamW decay on matrices (never on biases and norms)")
    )
    max_grad_norm: float = field(default=1.0, metadata=_help("gradient clipping; 0 turns it off"))
    max_length: int = field(
        default=512,
        metadata=_help("tokens per (prompt, response) pair; the prompt loses its start first"),
    )
    val_fraction: float = field(
        default=0.1, metadata=_help("share of comparisons (groups) held out for evaluation")
    )
    seed: int = field(default=0, metadata=_help("split, batch order and head initialisation"))
    center_rewards_coef: float = field(
        default=0.0,
        metadata=_help("weight of mean((r1 + r2)^2), TRL's reward centring; 0 = off"),
    )
    use_margin: bool = field(
        default=True,
        metadata=_help("subtract an example's margin (label strength) from its score gap"),
    )
    eval_each_epoch: bool = field(
        default=True,
        metadata=_help("evaluate and report after every epoch, not only at the end"),
    )
    eval_batch_size: int = field(
        default=32, metadata=_help("pairs per evaluation forward pass (per process)")
    )
    disable_dropout: bool = field(
        default=True,
        metadata=_help("turn dropout off: it only adds noise to a difference of two scores"),
    )
    length_group_size: int = field(
        default=50,
        metadata=_help("batches per length-sorted mega-batch; 1 = plain shuffling"),
    )
    checkpoint_every: int = field(
        default=200,
        metadata=_help("optimizer steps between checkpoints (also saved each epoch)"),
    )
    reward_heads: int = field(
        default=3,
        metadata=_help(
            "reward heads on one backbone (an ensemble, each on its own bootstrap resample);"
            " the score is their mean and its uncertainty their spread"
        ),
    )
    length_head_coef: float = field(
        default=0.0,
        metadata=_help(
            "weight of ODIN's length terms: a length head trained jointly to explain response"
            " length, reward heads pushed to be uncorrelated with it, the length head dropped"
            " at scoring; 0 = off"
        ),
    )
    length_balance: bool = field(
        default=False,
        metadata=_help(
            "weight pairs so that those whose chosen response is longer and those whose chosen"
            " response is shorter count equally"
        ),
    )
    log_every: int = field(default=10, metadata=_help("optimizer steps between progress reports"))
