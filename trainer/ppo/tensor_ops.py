"""Pure tensor maths of PPO. B: responses in a batch, T: response tokens, V: vocabulary.

``mask`` is a (B, T) bool tensor, True on the tokens a response really has (its end-of-sequence
token included); everything after it is padding that no statistic or loss may see.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainer.ppo.config import KLEstimator


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean over the True entries of ``mask`` (all of them, or along ``dim``)."""
    m = mask.to(values.dtype)
    if dim is None:
        return (values * m).sum() / m.sum().clamp(min=1.0)
    return (values * m).sum(dim) / m.sum(dim).clamp(min=1.0)


def masked_var(values: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance over the True entries of ``mask``, with Bessel's correction by default."""
    centered = values - masked_mean(values, mask)
    var = masked_mean(centered**2, mask)
    if unbiased:
        n = mask.sum().to(values.dtype)
        if n < 2:
            raise ValueError("need at least two unmasked values for an unbiased variance")
        var = var * n / (n - 1)
    return var


def masked_whiten(
    values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """Values scaled to unit variance over the mask, and centred unless ``shift_mean`` is False."""
    mean, var = masked_mean(values, mask), masked_var(values, mask)
    whitened = (values - mean) * torch.rsqrt(var + eps)
    return whitened if shift_mean else whitened + mean


def logprobs_of(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(token) for each position: (B, T, V), (B, T) -> (B, T).

    Gathers before normalising, so no (B, T, V) log-softmax tensor is kept for backward.
    """
    picked = logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return picked - torch.logsumexp(logits, dim=-1)


def entropy_of(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of each position's distribution: (B, T, V) -> (B, T)."""
    logp = F.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def kl_estimate(
    logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: KLEstimator = "k1"
) -> torch.Tensor:
    """Per-token estimate of KL(policy || reference) on tokens sampled from the policy: (B, T).

    k1 = log p - log q is unbiased but can go negative; k3 = (r - 1) - log r with r = q/p is
    unbiased, never negative and has lower variance (Schulman, "Approximating KL divergence").
    """
    log_ratio = ref_logprobs - logprobs  # log r = log q - log p
    if estimator == "k1":
        return -log_ratio
    if estimator == "k3":
        return torch.expm1(log_ratio) - log_ratio
    raise ValueError(f"unknown KL estimator {estimator!r}")


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> torch.Tensor:
    """Generalised advantage estimates (Schulman et al. 2016): (B, T) -> (B, T).

    Rewards and values past the end of a response count as zero, so the last real token
    bootstraps from nothing: the episode ends there.
    """
    m = mask.to(rewards.dtype)
    rewards, values = rewards * m, values * m
    T = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])  # (B,)
    for t in reversed(range(T)):
        next_value = values[:, t + 1] if t + 1 < T else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        advantages[:, t] = last
    return advantages * m


def clipped_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate (to minimise) and the share of tokens where clipping bit.

    All inputs (B, T); returns two scalars.
    """
    ratio = torch.exp(logprobs - old_logprobs)  # (B, T)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    clip_frac = masked_mean((clipped > unclipped).to(logprobs.dtype), mask)
    return loss, clip_frac.detach()


def clipped_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Half the larger of the plain and clipped squared errors, and the share clipped.

    The prediction may move at most ``clip_range`` from the rollout's value before the clipped
    error takes over, as in OpenAI's baselines. All inputs (B, T); returns two scalars.
    """
    clipped_values = old_values + torch.clamp(values - old_values, -clip_range, clip_range)
    unclipped_err = (values - returns) ** 2  # (B, T)
    clipped_err = (clipped_values - returns) ** 2  # (B, T)
    loss = 0.5 * masked_mean(torch.maximum(unclipped_err, clipped_err), mask)
    clip_frac = masked_mean((clipped_err > unclipped_err).to(values.dtype), mask)
    return loss, clip_frac.detach()


def response_mask(
    responses: torch.Tensor, stop_ids: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask (B, T), ended (B,)): tokens up to and including the first stop token.

    A response without a stop token ran into the length limit: all of it counts, ended False.
    """
    is_stop = torch.isin(responses, torch.tensor(stop_ids, device=responses.device))  # (B, T)
    ended = is_stop.any(dim=1)  # (B,)
    T = responses.shape[1]
    first_stop = torch.where(ended, is_stop.int().argmax(dim=1), T - 1)  # (B,)
    positions = torch.arange(T, device=responses.device)
    return positions.unsqueeze(0) <= first_stop.unsqueeze(1), ended
