"""Tiny random models built offline for job tests: a BERT reward model and a chat policy."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from tests.trainer.ppo.tiny_policy import save_tiny_policy
from trainer.default_models import DEFAULT_REWARD, reward_base_path

__all__ = ["save_tiny_policy", "save_tiny_reward_base"]


def save_tiny_reward_base(directory: Path) -> Path:
    """A random 2-layer, 32-wide BERT with a scalar head and the default reward tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(reward_base_path(DEFAULT_REWARD))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=1,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
