"""Loading a reward model: a transformer with a scalar head, and its tokenizer."""

from __future__ import annotations

from pathlib import Path

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)


def load_reward_model(path: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A directory or hub id -> (model with ``num_labels=1``, tokenizer) ready for batches."""
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token is None:
        # Decoder tokenizers often lack one; the scalar head needs it to find the last token.
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=1)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def disable_dropout(model: PreTrainedModel) -> None:
    """Dropout adds noise to a pairwise loss that compares two forward passes of the same net."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
