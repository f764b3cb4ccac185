"""Keeping length out of the reward: a jointly trained length head (ODIN) and pair weights.

On HH data the chosen response is usually the longer one in helpful pairs and the shorter
one in harmless pairs, so a reward model can buy accuracy with length alone (Singhal et al.,
2023) and PPO then learns to pad. ODIN (Chen et al., 2024) gives the model a second head that
is pushed to explain length and adds it to the reward during training only, while the reward
heads are pushed to be uncorrelated with length; at scoring the length head is dropped.
Pair weights (``length_balance_weights``) are the data-side remedy: pairs whose chosen
response is longer and those whose chosen response is shorter count equally.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def batch_correlation(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Pearson correlation of two (N,) tensors, differentiable; 0 when either is constant."""
    xc, yc = x - x.mean(), y - y.mean()
    denom = torch.sqrt((xc * xc).sum() * (yc * yc).sum())
    return (xc * yc).sum() / (denom + eps)


def length_decorrelation_loss(
    rewards: torch.Tensor, length_head: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """ODIN's length terms on one batch of responses: rewards (N, K), length head (N,),
    lengths (N,) -> () = mean_k |corr(r_k, length)| - corr(length head, length)."""
    lengths = lengths.to(rewards.dtype)
    if rewards.shape[0] < 3 or float(lengths.std()) == 0.0:
        return rewards.sum() * 0.0  # nothing to correlate with; keeps the graph alive
    reward_corr = torch.stack(
        [batch_correlation(rewards[:, k], lengths).abs() for k in range(rewards.shape[1])]
    ).mean()
    return reward_corr - batch_correlation(length_head, lengths)


def length_balance_weights(first_longer: Sequence[bool | None]) -> torch.Tensor:
    """(N,) weights, mean 1 over the decided pairs: pairs whose first (preferred) response is
    longer and those whose first is shorter get equal total weight; equal lengths (None)
    keep weight 1."""
    longer = sum(1 for x in first_longer if x is True)
    shorter = sum(1 for x in first_longer if x is False)
    decided = longer + shorter
    weights = []
    for x in first_longer:
        if x is None or not longer or not shorter:
            weights.append(1.0)
        else:
            weights.append(decided / (2 * (longer if x else shorter)))
    return torch.tensor(weights, dtype=torch.float32)


def bootstrap_weights(n: int, heads: int, seed: int) -> torch.Tensor:
    """(N, K) Poisson(1) counts: each head of an ensemble trains on its own resample of the
    pairs (the online bootstrap), so heads differ where the data is thin. One head: all 1."""
    if heads == 1:
        return torch.ones(n, 1)
    generator = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.ones(n, heads), generator=generator)
