from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer, BertForSequenceClassification

from tests.trainer.reward.synthetic import keyword_examples, tie_examples
from trainer.context import JobInterrupted, NullContext
from trainer.reward.checkpoint import CHECKPOINT_FILE
from trainer.reward.config import RewardConfig
from trainer.reward.evaluate import evaluate_preferences
from trainer.reward.scoring import RewardScorer
from trainer.reward.train import train_reward_model

FAST = RewardConfig(
    epochs=3, learning_rate=3e-3, batch_size=16, max_length=64, val_fraction=0.2, log_every=5
)


def weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(directory / "model.safetensors")


def test_learns_a_separable_preference(reward_tiny_model: Path, tmp_path: Path) -> None:
    ctx = NullContext(tmp_path / "ckpt")
    out = tmp_path / "model"
    metrics = train_reward_model(keyword_examples(240), str(reward_tiny_model), FAST, ctx, out)
    assert metrics["accuracy"] >= 0.95
    assert metrics["n_val"] == 48 and metrics["n_train"] == 192
    assert {"loss", "margin", "ece"} <= metrics.keys() and metrics["margin"] > 0
    # One evaluation report per epoch, and progress reaches 1.
    assert sum("accuracy" in m for _, _, m in ctx.reports) == FAST.epochs
    assert ctx.reports[-1][1] == 1.0
    # The saved model is usable on its own: scorer and reward-eval agree it learned the rule.
    scores = RewardScorer(out).score(
        [[{"role": "user", "content": "any idea"}]] * 2,
        ["the cat is excellent today", "the cat is here today"],
    )
    assert scores.shape == (2,) and scores[0] > scores[1]
    fresh = keyword_examples(60, seed=99)
    assert evaluate_preferences(out, fresh)["accuracy"] >= 0.95
    assert evaluate_preferences(out, fresh)["n"] == 60


def test_ties_pull_scores_together(reward_tiny_model: Path, tmp_path: Path) -> None:
    trained = tmp_path / "trained"
    train_reward_model(
        keyword_examples(160), str(reward_tiny_model), FAST, NullContext(tmp_path / "c1"), trained
    )
    ties = tie_examples(64, seed=5)

    def mean_gap(model: Path) -> float:
        scorer = RewardScorer(model)
        prompts = [e.prompt for e in ties]
        a = scorer.score(prompts, [e.response_a for e in ties])
        b = scorer.score(prompts, [e.response_b for e in ties])
        return float((a - b).abs().mean())

    before = mean_gap(trained)
    assert before > 1.0  # the keyword model separates these pairs
    tied = tmp_path / "tied"
    config = RewardConfig(
        epochs=2, learning_rate=1e-3, batch_size=16, max_length=64, val_fraction=0
    )
    metrics = train_reward_model(ties, str(trained), config, NullContext(tmp_path / "c2"), tied)
    assert metrics["n_val"] == 0
    assert mean_gap(tied) < 0.5 * before


def test_resume_after_interruption_matches_uninterrupted(
    reward_tiny_model: Path, tmp_path: Path
) -> None:
    examples = keyword_examples(120)
    config = RewardConfig(
        epochs=2, learning_rate=3e-3, batch_size=8, max_length=64, log_every=3, checkpoint_every=4
    )
    straight = train_reward_model(
        examples, str(reward_tiny_model), config, NullContext(tmp_path / "a"), tmp_path / "m1"
    )

    interrupted = NullContext(tmp_path / "b")
    interrupted.stop_after_reports = 3  # stops at step 9, mid first epoch (14 steps each)
    with pytest.raises(JobInterrupted):
        train_reward_model(examples, str(reward_tiny_model), config, interrupted, tmp_path / "m2")
    assert (tmp_path / "b" / CHECKPOINT_FILE).exists()
    assert not (tmp_path / "m2").exists()
    resumed_ctx = NullContext(tmp_path / "b")
    resumed = train_reward_model(
        examples, str(reward_tiny_model), config, resumed_ctx, tmp_path / "m2"
    )
    assert resumed_ctx.reports[0][0] == 12  # first report after resuming at step 9

    assert resumed == pytest.approx(straight, rel=1e-5)
    w1, w2 = weights(tmp_path / "m1"), weights(tmp_path / "m2")
    for name, w in w1.items():
        torch.testing.assert_close(w2[name], w, rtol=1e-5, atol=1e-6)


def test_checkpoint_for_other_settings_is_not_resumed(
    reward_tiny_model: Path, tmp_path: Path
) -> None:
    examples = keyword_examples(40)
    ctx = NullContext(tmp_path / "ckpt")
    ctx.stop_after_reports = 1
    config = RewardConfig(batch_size=8, max_length=64, log_every=1)
    with pytest.raises(JobInterrupted):
        train_reward_model(examples, str(reward_tiny_model), config, ctx, tmp_path / "m")
    other = NullContext(tmp_path / "ckpt")
    train_reward_model(
        examples,
        str(reward_tiny_model),
        RewardConfig(batch_size=4, max_length=64, log_every=1),
        other,
        tmp_path / "m",
    )
    assert other.reports[0][0] == 1  # started from step 0, not from the saved step


def test_gradient_accumulation_matches_one_big_batch(
    reward_tiny_model: Path, tmp_path: Path
) -> None:
    examples = keyword_examples(60)
    base = RewardConfig(batch_size=8, learning_rate=3e-3, max_length=64, val_fraction=0.2)
    results = []
    # No splitting at all, then three micro-batches each further cut at 48 padded tokens.
    for accumulation, cap in ((1, 0), (3, 48)):
        config = RewardConfig(
            **{**base.__dict__, "grad_accumulation": accumulation, "max_tokens_per_forward": cap}
        )
        out = tmp_path / f"acc{accumulation}"
        results.append(
            train_reward_model(
                examples, str(reward_tiny_model), config, NullContext(out / "c"), out / "m"
            )
        )
    assert results[1]["loss"] == pytest.approx(results[0]["loss"], rel=1e-4)
    assert results[1]["margin"] == pytest.approx(results[0]["margin"], rel=1e-4)


def test_reward_centring_pulls_scores_to_zero(reward_tiny_model: Path, tmp_path: Path) -> None:
    # Start from scores offset by +1: the pairwise loss cannot see an offset, centring can.
    offset = tmp_path / "offset"
    model = BertForSequenceClassification.from_pretrained(reward_tiny_model)
    with torch.no_grad():
        model.classifier.bias.fill_(1.0)
    model.save_pretrained(offset)
    AutoTokenizer.from_pretrained(reward_tiny_model).save_pretrained(offset)
    examples = keyword_examples(120)
    prompts = [e.prompt for e in examples] * 2
    responses = [e.response_a for e in examples] + [e.response_b for e in examples]

    def mean_score(coef: float) -> float:
        config = RewardConfig(
            epochs=3,
            learning_rate=3e-3,
            max_length=64,
            val_fraction=0,
            center_rewards_coef=coef,
            reward_heads=1,  # an ensemble's heads are centred at saving anyway
        )
        out = tmp_path / f"c{coef}"
        train_reward_model(examples, str(offset), config, NullContext(out), out / "m")
        return float(RewardScorer(out / "m").score(prompts, responses).mean())

    uncentred, centred = mean_score(0.0), mean_score(0.1)
    assert uncentred > 0.8
    assert abs(centred) < 0.5 * uncentred
