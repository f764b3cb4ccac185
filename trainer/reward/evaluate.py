"""Scoring a labelled preference set with a trained reward model (``rlhf reward-eval``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from trainer.reward.data import PreferenceExample, orient
from trainer.reward.loss import preference_metrics
from trainer.reward.scoring import RewardScorer


def evaluate_preferences(
    model_path: str | Path,
    examples: Sequence[PreferenceExample],
    device: str | torch.device = "cpu",
    max_length: int = 512,
    batch_size: int = 16,
) -> dict[str, float]:
    """``accuracy`` over strict pairs (ties left out, equal scores wrong) and their count ``n``,
    plus ``margin``, ``ece`` and ``loss`` (the latter over ties too)."""
    scorer = RewardScorer(model_path, device=device, max_length=max_length, batch_size=batch_size)
    pairs = [orient(e, use_margin=False) for e in examples]
    prompts = [e.prompt for e in examples]
    scores = scorer.score(prompts + prompts, [p.first for p in pairs] + [p.second for p in pairs])
    first, second = scores[: len(examples)], scores[len(examples) :]  # (N,), (N,)
    target = torch.tensor([p.target for p in pairs], dtype=torch.float32)
    return preference_metrics(first - second, target)
