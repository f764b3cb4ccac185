"""The reward job's parameters: the trainer's ``RewardConfig`` fields by name, with their
ranges and help texts (a test keeps them in step), plus the job's own data choices."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from app.schemas.params import StrictParams as _Params


class RewardParams(_Params):
    """Bradley-Terry reward model on the project's labels (human and imported)."""

    base_model: str | None = Field(
        None,
        max_length=500,
        description="hub id or directory; default: the configured reward model",
    )
    # Training fields: names, defaults and descriptions as in trainer/reward/config.py.
    epochs: int = Field(2, ge=1, le=1000, description="passes over the training pairs")
    learning_rate: float = Field(
        5e-5, gt=0, le=1, description="peak AdamW learning rate, reached after warm-up"
    )
    batch_size: int = Field(
        16,
        ge=1,
        le=65536,
        description="pairs per optimizer step, summed over processes and accumulation",
    )
    grad_accumulation: int = Field(
        1,
        ge=1,
        le=1024,
        description="micro-batches per process per step: less memory, same maths",
    )
    max_tokens_per_forward: int = Field(
        4096, ge=0, description="cap on padded tokens per side of a micro-batch; 0 = no cap"
    )
    warmup_ratio: float = Field(
        0.1,
        ge=0,
        le=1,
        description="share of all steps spent ramping the LR up from 0; then linear decay",
    )
    weight_decay: float = Field(
        0.0, ge=0, le=1, description="AdamW decay on matrices (never on biases and norms)"
    )
    max_grad_norm: float = Field(1.0, ge=0, description="gradient clipping; 0 turns it off")
    max_length: int = Field(
        512,
        ge=8,
        le=32768,
        description="tokens per (prompt, response) pair; the prompt loses its start first",
    )
    val_fraction: float = Field(
        0.1, ge=0, lt=1, description="share of comparisons (groups) held out for evaluation"
    )
    seed: int = Field(0, description="split, batch order and head initialisation")
    center_rewards_coef: float = Field(
        0.0, ge=0, description="weight of mean((r1 + r2)^2), TRL's reward centring; 0 = off"
    )
    use_margin: bool = Field(
        True, description="subtract an example's margin (label strength) from its score gap"
    )
    eval_each_epoch: bool = Field(
        True, description="evaluate and report after every epoch, not only at the end"
    )
    eval_batch_size: int = Field(
        32, ge=1, le=65536, description="pairs per evaluation forward pass (per process)"
    )
    disable_dropout: bool = Field(
        True, description="turn dropout off: it only adds noise to a difference of two scores"
    )
    length_group_size: int = Field(
        50, ge=1, description="batches per length-sorted mega-batch; 1 = plain shuffling"
    )
    checkpoint_every: int = Field(
        200, ge=1, description="optimizer steps between checkpoints (also saved each epoch)"
    )
    reward_heads: int = Field(
        3,
        ge=1,
        le=64,
        description="reward heads on one backbone (an ensemble, each on its own bootstrap"
        " resample); the score is their mean and its uncertainty their spread",
    )
    length_head_coef: float = Field(
        0.0,
        ge=0,
        description="weight of ODIN's length terms: a length head trained jointly to explain"
        " response length, reward heads pushed to be uncorrelated with it, the length head"
        " dropped at scoring; 0 = off",
    )
    length_balance: bool = Field(
        False,
        description="weight pairs so that those whose chosen response is longer and those whose"
        " chosen response is shorter count equally",
    )
    log_every: int = Field(10, ge=1, description="optimizer steps between progress reports")
    min_labels: int = Field(2, ge=1, description="refuse to train on fewer labelled comparisons")
    include_evaluation: bool = Field(
        False, description="also train on the labels of blind evaluation pairs"
    )
    include_flagged: bool = Field(
        False, description="also train on labels of flagged and suspended annotators"
    )
    aggregation: Literal["labels", "majority", "model"] = Field(
        "labels",
        description="labels: every trusted label is an example; majority or model: one"
        " example per pair, its labels combined by majority vote or by the latent-truth model",
    )

    def config_fields(self) -> dict[str, Any]:
        return self.model_dump(
            exclude={
                "base_model",
                "min_labels",
                "include_evaluation",
                "include_flagged",
                "aggregation",
            }
        )
