"""Length debiasing (ODIN's length head, length-balanced weights) and ensemble heads."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.trainer.reward.synthetic import keyword_examples, length_confounded_examples
from trainer.context import NullContext
from trainer.reward.config import RewardConfig
from trainer.reward.data import PreferenceExample
from trainer.reward.debias import (
    bootstrap_weights,
    length_balance_weights,
    length_decorrelation_loss,
)
from trainer.reward.evaluate import evaluate_preferences
from trainer.reward.scoring import RewardScorer
from trainer.reward.train import train_reward_model

QUICK = RewardConfig(
    epochs=3,
    learning_rate=3e-3,
    batch_size=16,
    max_length=64,
    val_fraction=0.0,
    log_every=100,
    checkpoint_every=10**6,
    reward_heads=1,
)


def _train(base: Path, out: Path, config: RewardConfig, examples: list[PreferenceExample]) -> Path:
    train_reward_model(examples, str(base), config, NullContext(out / "ckpt"), out / "model")
    return out / "model"


def test_length_head_lowers_margin_length_correlation_where_length_is_a_confound(
    reward_tiny_model: Path, tmp_path: Path
) -> None:
    # Training labels always favour the longer response, the keyword only in 70 %; on fresh
    # pairs only the keyword decides and length is incidental.
    train = length_confounded_examples(240)
    fresh = keyword_examples(120, seed=7)
    plain = _train(reward_tiny_model, tmp_path / "plain", QUICK, train)
    debiased_config = replace(QUICK, length_head_coef=1.0)
    debiased = _train(reward_tiny_model, tmp_path / "odin", debiased_config, train)

    plain_corr = evaluate_preferences(plain, fresh, max_length=64)["margin_length_corr"]
    odin = evaluate_preferences(debiased, fresh, max_length=64)
    assert plain_corr > 0.3  # the plain model learned length
    assert abs(odin["margin_length_corr"]) < plain_corr - 0.05
    # The length head is kept in the weights but never scores.
    saved = json.loads((debiased / "config.json").read_text())
    assert (saved["reward_heads"], saved["length_head"]) == (1, True)
    assert load_file(debiased / "model.safetensors")["classifier.weight"].shape == (2, 32)
    scorer = RewardScorer(debiased)
    assert scorer.head_scores(
        [e.prompt for e in fresh[:4]], [e.response_a for e in fresh[:4]]
    ).shape == (4, 1)


def test_ensemble_heads_give_scores_and_a_spread(reward_tiny_model: Path, tmp_path: Path) -> None:
    config = replace(QUICK, reward_heads=3, epochs=2)
    model = _train(reward_tiny_model, tmp_path / "ensemble", config, keyword_examples(160))
    saved = json.loads((model / "config.json").read_text())
    assert saved["reward_heads"] == 3 and len(saved["reward_head_offsets"]) == 3
    fresh = keyword_examples(20, seed=3)
    prompts, responses = [e.prompt for e in fresh], [e.response_b for e in fresh]
    scorer = RewardScorer(model)
    heads = scorer.head_scores(prompts, responses)
    scores, spread = scorer.score_with_uncertainty(prompts, responses)
    assert heads.shape == (20, 3) and scores.shape == (20,)
    assert spread is not None and spread.shape == (20,) and bool((spread > 0).all())
    assert torch.allclose(scores, heads.mean(dim=1)) and torch.allclose(
        scorer.score(prompts, responses), scores
    )
    assert torch.allclose(spread, heads.std(dim=1, unbiased=False))
    assert evaluate_preferences(model, fresh)["uncertainty"] > 0
    # A single-head model gives no uncertainty.
    single = _train(reward_tiny_model, tmp_path / "single", QUICK, keyword_examples(32))
    assert RewardScorer(single).score_with_uncertainty(prompts, responses)[1] is None


def test_length_loss_by_hand_and_its_gradient_stays_bounded() -> None:
    lengths = torch.tensor([10.0, 20.0, 30.0, 40.0])
    z = (lengths - 25.0) / lengths.std()
    neutral = torch.tensor([[1.0], [-1.0], [-1.0], [1.0]])  # no covariance with length
    # A length head that is the standardised length and a reward free of length: no loss.
    assert float(length_decorrelation_loss(neutral, z, lengths)) == pytest.approx(0.0, abs=1e-6)
    # A reward that is length, and a length head that is its opposite: both terms by hand.
    by_hand = 4 * float((z**2).mean()) + float(((lengths - 25.0) * z).mean()) ** 2
    loss = length_decorrelation_loss(lengths[:, None], -z, lengths)
    assert float(loss) == pytest.approx(by_hand, rel=1e-5)
    # The gradient stays bounded for a nearly constant head (a correlation's would not).
    head = torch.full((4,), 1e-6, requires_grad=True)
    length_decorrelation_loss(neutral, head, lengths).backward()
    assert head.grad is not None and float(head.grad.abs().max()) < 2.0


def test_length_balance_and_bootstrap_weights() -> None:
    # Three pairs with the chosen one longer, one with it shorter, one of equal lengths.
    weights = length_balance_weights([True, True, True, False, None])
    assert weights.tolist() == pytest.approx([2 / 3, 2 / 3, 2 / 3, 2.0, 1.0])
    assert length_balance_weights([True, True]).tolist() == [1.0, 1.0]
    counts = bootstrap_weights(1000, 4, seed=0)
    assert counts.shape == (1000, 4) and float(counts.mean()) == pytest.approx(1.0, abs=0.1)
    assert torch.equal(counts, bootstrap_weights(1000, 4, seed=0))
    assert not torch.equal(counts[:, 0], counts[:, 1])
    assert torch.equal(bootstrap_weights(5, 1, seed=0), torch.ones(5, 1))
