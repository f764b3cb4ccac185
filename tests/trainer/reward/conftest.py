"""Reward fixtures: a tiny random BERT reward model with the default model's tokenizer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from trainer.default_models import DEFAULT_REWARD, reward_base_path


def build_tiny_reward_model(directory: Path) -> Path:
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


@pytest.fixture(scope="session")
def reward_tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory of a random 2-layer, 32-wide BERT with a scalar head (num_labels=1)."""
    return build_tiny_reward_model(tmp_path_factory.mktemp("reward-tiny"))


@pytest.fixture(autouse=True)
def reward_one_thread() -> Iterator[None]:
    """Tiny models gain nothing from more threads, and spinning threads stall a busy CI box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
