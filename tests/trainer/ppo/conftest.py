"""PPO fixtures: a tiny random chat policy and a synthetic reward."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import torch

from tests.trainer.ppo.tiny_policy import save_tiny_policy


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_tiny_policy(tmp_path_factory.mktemp("tiny-policy")))


def letter_share_score(
    prompts: Sequence[list[dict[str, str]]], responses: Sequence[str]
) -> torch.Tensor:
    """Synthetic reward: 10x the share of the letter "e" in a response."""
    return torch.tensor([10.0 * r.count("e") / max(len(r), 1) for r in responses])


@pytest.fixture
def checkpoint_dir(tmp_path: Path) -> Path:
    return tmp_path / "checkpoints"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and the CI machine's two cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
