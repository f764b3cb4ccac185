"""Scoring a labelled preference set with a trained reward model (``rlhf reward-eval``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from trainer.reward.breakdown import length_difference, preference_breakdown
from trainer.reward.data import PreferenceExample, orient
from trainer.reward.loss import preference_metrics
from trainer.reward.scoring import RewardScorer


def evaluate_preferences(
    model_path: str | Path,
    examples: Sequence[PreferenceExample],
    device: str | torch.device = "cpu",
    max_length: int = 512,
    batch_size: int = 16,
    subsets: Sequence[str] | None = None,
) -> dict[str, float]:
    """``accuracy`` over strict pairs (ties left out, equal scores wrong) and their count ``n``,
    ``margin``, ``ece`` and ``loss`` (the latter over ties too), the length breakdown of
    ``preference_breakdown`` (per subset when ``subsets`` names each example's), and
    ``uncertainty``: the mean spread of an ensemble's scores (0 for a single head)."""
    scorer = RewardScorer(model_path, device=device, max_length=max_length, batch_size=batch_size)
    pairs = [orient(e, use_margin=False) for e in examples]
    prompts = [e.prompt for e in examples]
    scores, spread = scorer.score_with_uncertainty(
        prompts + prompts, [p.first for p in pairs] + [p.second for p in pairs]
    )
    first, second = scores[: len(examples)], scores[len(examples) :]  # (N,), (N,)
    target = torch.tensor([p.target for p in pairs], dtype=torch.float32)
    metrics = preference_metrics(first - second, target)
    strict = [i for i, p in enumerate(pairs) if p.target == 1.0]
    delta = (first - second).tolist()
    metrics.update(
        preference_breakdown(
            [delta[i] for i in strict],
            [length_difference(pairs[i].first, pairs[i].second) for i in strict],
            [subsets[i] for i in strict] if subsets is not None else None,
        )
    )
    metrics["uncertainty"] = float(spread.mean()) if spread is not None and len(spread) else 0.0
    return metrics
