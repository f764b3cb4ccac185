"""The real default policy (SmolLM2-135M-Instruct from its PyPI GGUF) and default reward model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from trainer.context import NullContext
from trainer.default_models import DEFAULT_POLICY, DEFAULT_REWARD, ensure_policy, reward_base_path
from trainer.generation import GenerationConfig, generate_pairs
from trainer.policy import is_adapter, load_policy
from trainer.ppo.config import PPOConfig
from trainer.ppo.train import train_ppo
from trainer.reward.scoring import RewardScorer

pytestmark = pytest.mark.slow

PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "Give me one tip for sleeping better."}],
    [{"role": "user", "content": "Name a colour of the sky."}],
]


@pytest.fixture(scope="module")
def default_policy(tmp_path_factory: pytest.TempPathFactory) -> str:
    return ensure_policy(DEFAULT_POLICY, tmp_path_factory.mktemp("models"))


def test_default_policy_is_materialised_once_and_generates_pairs(default_policy: str) -> None:
    weights = Path(default_policy) / "model.safetensors"
    written = weights.stat().st_mtime_ns
    assert ensure_policy(DEFAULT_POLICY, Path(default_policy).parents[1]) == default_policy
    assert weights.stat().st_mtime_ns == written
    config = json.loads((Path(default_policy) / "config.json").read_text())
    assert "quantization_config" not in config

    model, tokenizer = load_policy(default_policy)
    assert tokenizer.chat_template and tokenizer.eos_token == "<|im_end|>"
    greedy = tokenizer.apply_chat_template(
        PROMPTS[0], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(**greedy, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, greedy["input_ids"].shape[1] :])

    pairs = generate_pairs(default_policy, None, PROMPTS[:2], GenerationConfig(max_new_tokens=16))
    assert pairs and all(a != b and a and b for _, a, b in pairs)


def test_one_ppo_step_with_the_default_policy_and_reward(
    default_policy: str, tmp_path: Path
) -> None:
    scorer = RewardScorer(reward_base_path(DEFAULT_REWARD))
    config = PPOConfig(
        total_steps=1,
        batch_size=2,
        num_mini_batches=1,
        ppo_epochs=1,
        response_length=8,
        eval_prompts=1,
    )
    ctx = NullContext(tmp_path / "ckpt")
    metrics = train_ppo(PROMPTS, default_policy, scorer.score, config, ctx, tmp_path / "out")
    assert len(ctx.reports) == 1
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    assert 0 < metrics["response/length"] <= 8
    assert is_adapter(tmp_path / "out")
    tuned, _ = load_policy(tmp_path / "out")
    assert tuned.config.num_hidden_layers == 30
