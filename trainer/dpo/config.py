"""DPO hyper-parameters: copied into the job row, the checkpoint and the saved adapter.

Torch-free, so the job schema, the launch flags and the web form read it without loading
a model. Each field's ``help`` is what ``python -m trainer.dpo.launch --help`` prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

LossType = Literal["sigmoid", "ipo", "robust"]
LOSS_TYPES: tuple[str, ...] = ("sigmoid", "ipo", "robust")


@dataclass(frozen=True)
class DPOConfig:
    beta: float = field(
        default=0.1,
        metadata={"help": "weight of the implicit reward: larger keeps closer to the reference"},
    )
    loss_type: LossType = field(
        default="sigmoid",
        metadata={
            "help": "sigmoid (DPO), ipo (identity preference optimisation, length-averaged"
            " log-probs), or robust (robust DPO, Chowdhury et al. 2024: unbiased under"
            " label_smoothing's share of flipped labels)"
        },
    )
    label_smoothing: float = field(
        default=0.0,
        metadata={
            "help": "assumed share of wrong labels, in [0, 0.5): conservative DPO with"
            " sigmoid, the noise rate of robust; 0 with ipo"
        },
    )
    use_margin: bool = field(
        default=False,
        metadata={"help": "subtract a pair's margin (label strength) from its reward gap"},
    )
    epochs: int = field(default=1, metadata={"help": "passes over the training pairs"})
    learning_rate: float = field(
        default=5e-5, metadata={"help": "peak AdamW learning rate of the LoRA adapter"}
    )
    warmup_ratio: float = field(
        default=0.1, metadata={"help": "share of steps ramping the LR up; then linear decay"}
    )
    batch_size: int = field(
        default=8, metadata={"help": "pairs per optimiser step, summed over processes"}
    )
    # Activations, not weights, fill memory when training a small model: each token of
    # SmolLM2-135M under an all-linear adapter keeps about 2.7 MB for the backward pass (fp32).
    max_tokens_per_forward: int = field(
        default=512,
        metadata={
            "help": "cap on padded tokens per forward pass (both sides of its pairs): bounds"
            " memory, same gradient; 0 = no cap"
        },
    )
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping; 0 = off"})
    max_length: int = field(
        default=512,
        metadata={"help": "tokens of prompt + response; the prompt loses its start first"},
    )
    max_prompt_length: int = field(
        default=256, metadata={"help": "tokens of prompt kept at most (its most recent ones)"}
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank of the adapter trained"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator"})
    lora_target_modules: str = field(
        default="all-linear",
        metadata={"help": "modules given an adapter (all-linear: every linear but the head)"},
    )
    seed: int = field(default=0, metadata={"help": "split, batch order and adapter init"})
    length_group_size: int = field(
        default=50,
        metadata={"help": "batches per length-sorted mega-batch (less padding); 1 = shuffle"},
    )
    val_fraction: float = field(
        default=0.1,
        metadata={"help": "share of comparisons held out to measure implicit-reward accuracy"},
    )
    eval_batch_size: int = field(default=16, metadata={"help": "pairs per evaluation pass"})
    checkpoint_every: int = field(
        default=50, metadata={"help": "optimiser steps between checkpoints (and every epoch)"}
    )
    log_every: int = field(default=1, metadata={"help": "optimiser steps between reports"})

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError(f"beta must be > 0, not {self.beta}")
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {LOSS_TYPES}, not {self.loss_type!r}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ValueError("label_smoothing must be in [0, 0.5)")
        if self.loss_type == "ipo" and self.label_smoothing:
            raise ValueError("label_smoothing applies to sigmoid and robust, not ipo")
        if not 0 <= self.val_fraction < 1:
            raise ValueError("val_fraction must be in [0, 1)")
        positive = ("epochs", "batch_size", "max_length", "max_prompt_length", "eval_batch_size")
        for name in (*positive, "lora_r", "checkpoint_every", "log_every", "length_group_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.max_length < 2:
            raise ValueError("max_length must leave room for a prompt token and a response token")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DPOConfig:
        """A config from stored parameters; unknown keys are an error, missing ones default."""
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown DPO parameters: {sorted(unknown)}")
        return cls(**values)
