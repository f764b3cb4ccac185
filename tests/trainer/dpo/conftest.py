"""DPO fixtures: the tiny random chat policy of the PPO tests, one thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from tests.trainer.ppo.tiny_policy import save_tiny_policy


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_tiny_policy(tmp_path_factory.mktemp("dpo-tiny-policy")))


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and the machine's two cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
