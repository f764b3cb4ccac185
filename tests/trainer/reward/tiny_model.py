"""A tiny random BERT reward model with the default model's tokenizer, built offline."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from trainer.default_models import DEFAULT_REWARD, reward_base_path


def build_tiny_reward_model(directory: Path, reward_heads: int = 1) -> Path:
    """A random reward model; with ``reward_heads`` > 1 an (untrained) ensemble of heads."""
    tokenizer = AutoTokenizer.from_pretrained(reward_base_path(DEFAULT_REWARD))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=reward_heads,
    )
    if reward_heads > 1:
        config.reward_heads = reward_heads
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
