"""Loading a reward model: a transformer with scalar heads, and its tokenizer.

The classifier's outputs are laid out as ``reward_heads`` reward scores (an ensemble on one
backbone; 1 is the classic reward model) followed, during training only, by one length head
that soaks up what length explains (ODIN, Chen et al., 2024). The layout and each head's
offset are saved in the model's ``config.json`` (``reward_heads``, ``length_head``,
``reward_head_offsets``); a model without them is the classic one scalar head.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)


@dataclass(frozen=True)
class HeadLayout:
    reward_heads: int = 1
    length_head: bool = False
    # Subtracted from each reward head's raw output: Bradley-Terry fixes a head's scores only
    # up to a constant, so heads are centred before their spread is read as disagreement.
    offsets: tuple[float, ...] = ()

    @property
    def num_labels(self) -> int:
        return self.reward_heads + int(self.length_head)

    @classmethod
    def of(cls, config: PretrainedConfig) -> HeadLayout:
        heads = int(getattr(config, "reward_heads", 1))
        offsets = tuple(float(x) for x in getattr(config, "reward_head_offsets", ()) or ())
        return cls(heads, bool(getattr(config, "length_head", False)), offsets)

    def save_into(self, config: PretrainedConfig) -> None:
        config.reward_heads = self.reward_heads
        config.length_head = self.length_head
        config.reward_head_offsets = list(self.offsets)

    def rewards(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, num_labels) -> (B, reward_heads): the reward heads, centred."""
        heads = logits[:, : self.reward_heads]
        if self.offsets:
            heads = heads - torch.tensor(self.offsets, dtype=heads.dtype, device=heads.device)
        return heads

    def length(self, logits: torch.Tensor) -> torch.Tensor | None:
        """(B, num_labels) -> (B,): the length head, or None without one."""
        return logits[:, self.reward_heads] if self.length_head else None


def load_reward_model(
    path: str | Path, layout: HeadLayout | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, HeadLayout]:
    """A directory or hub id -> (model, tokenizer, head layout) ready for batches.

    ``layout`` given (training): the classifier gets that many outputs, freshly initialised
    if the saved one has another shape. None (scoring): the layout saved with the model.
    """
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token is None:
        # Decoder tokenizers often lack one; the scalar head needs it to find the last token.
        tokenizer.pad_token = tokenizer.eos_token
    config = AutoConfig.from_pretrained(str(path))
    layout = layout or HeadLayout.of(config)
    kwargs: dict[str, Any] = {"num_labels": layout.num_labels}
    if layout != HeadLayout.of(config):
        kwargs["ignore_mismatched_sizes"] = True
    model = AutoModelForSequenceClassification.from_pretrained(str(path), **kwargs)
    layout.save_into(model.config)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer, layout


def disable_dropout(model: PreTrainedModel) -> None:
    """Dropout adds noise to a pairwise loss that compares two forward passes of the same net."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
