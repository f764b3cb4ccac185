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


def length_decorrelation_loss(
    rewards: torch.Tensor, length_head: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """ODIN's length terms on one batch of responses: rewards (N, K), length head (N,),
    lengths (N,) -> () = mean((length head - z)^2) + mean_k cov(r_k, z)^2, z the batch's
    standardised lengths.

    ODIN writes both terms as Pearson correlations; their gradients grow as 1/std of the head,
    so while a head is still nearly constant they swamp the ranking loss (and, clipped, starve
    it). A regression onto z and a squared covariance with z ask the same and stay bounded."""
    lengths = lengths.to(rewards.dtype)
    if rewards.shape[0] < 3 or float(lengths.std()) == 0.0:
        return rewards.sum() * 0.0  # nothing to correlate with; keeps the graph alive
    z = (lengths - lengths.mean()) / lengths.std()  # (N,)
    explain = ((length_head - z) ** 2).mean()
    centred = rewards - rewards.mean(dim=0, keepdim=True)  # (N, K)
    covariance = (centred * z[:, None]).mean(dim=0)  # (K,)
    return explain + (covariance**2).mean()


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
