"""Reward fixtures: a tiny random BERT reward model with the default model's tokenizer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.trainer.reward.tiny_model import build_tiny_reward_model


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
