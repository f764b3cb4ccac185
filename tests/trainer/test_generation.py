"""Sampling response pairs for annotators from a tiny random policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.trainer.ppo.tiny_policy import PROMPTS, save_tiny_policy
from trainer.context import JobInterrupted, NullContext
from trainer.generation import GenerationConfig, generate_pairs

CONFIG = GenerationConfig(max_new_tokens=12, temperature=1.0, top_p=1.0, batch_size=4)


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    a = save_tiny_policy(tmp_path_factory.mktemp("policy-a"), seed=0)
    b = save_tiny_policy(tmp_path_factory.mktemp("policy-b"), seed=1)
    return str(a), str(b)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_one_policy_gives_two_different_responses_per_prompt(
    policies: tuple[str, str], tmp_path: Path
) -> None:
    ctx = NullContext(tmp_path)
    pairs = generate_pairs(policies[0], None, PROMPTS[:6], CONFIG, ctx)
    assert [i for i, _, _ in pairs] == list(range(6))
    assert all(a != b for _, a, b in pairs)
    assert all(isinstance(a, str) and isinstance(b, str) for _, a, b in pairs)
    assert ctx.reports and ctx.reports[-1][1] == pytest.approx(1.0)


def test_pairs_are_repeatable_with_a_seed(policies: tuple[str, str]) -> None:
    first = generate_pairs(policies[0], None, PROMPTS[:4], CONFIG)
    again = generate_pairs(policies[0], None, PROMPTS[:4], CONFIG)
    other = generate_pairs(
        policies[0],
        None,
        PROMPTS[:4],
        GenerationConfig(max_new_tokens=12, temperature=1.0, top_p=1.0, batch_size=4, seed=5),
    )
    assert first == again
    assert first != other


def test_two_policies_answer_a_and_b(policies: tuple[str, str]) -> None:
    pairs = generate_pairs(policies[0], policies[1], PROMPTS[:4], CONFIG)
    alone = generate_pairs(policies[0], None, PROMPTS[:4], CONFIG)
    assert len(pairs) == 4
    assert all(a != b for _, a, b in pairs)
    assert [b for _, _, b in pairs] != [b for _, _, b in alone]


def test_identical_pairs_are_dropped_after_bounded_retries(
    policies: tuple[str, str], tmp_path: Path
) -> None:
    # A near-zero temperature samples the greedy answer every time: the two always agree.
    greedy = GenerationConfig(max_new_tokens=6, temperature=1e-4, batch_size=4, max_attempts=2)
    ctx = NullContext(tmp_path)
    assert generate_pairs(policies[0], None, PROMPTS[:3], greedy, ctx) == []
    assert [m["attempt"] for _, _, m in ctx.reports] == [0.0, 1.0]


def test_stop_request_interrupts(policies: tuple[str, str], tmp_path: Path) -> None:
    ctx = NullContext(tmp_path)
    ctx.stop_after_reports = 1
    with pytest.raises(JobInterrupted):
        generate_pairs(policies[0], None, PROMPTS[:8], CONFIG, ctx)
