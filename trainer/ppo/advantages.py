"""Advantage phase: per-token rewards with a KL penalty, then GAE and whitening."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trainer.ppo.config import PPOConfig
from trainer.ppo.rollout import Rollout
from trainer.ppo.tensor_ops import gae, kl_estimate, masked_whiten


@dataclass(frozen=True)
class Advantages:
    kl: torch.Tensor  # (B, T) per-token KL(policy || reference) estimate, 0 past the end
    rewards: torch.Tensor  # (B, T) -beta * kl, plus the score on each response's last token
    advantages: torch.Tensor  # (B, T) whitened GAE
    returns: torch.Tensor  # (B, T) un-whitened advantages + values: the value head's target


def compute_advantages(
    batch: Rollout, scores: torch.Tensor, beta: float, config: PPOConfig
) -> Advantages:
    """The reward model speaks once per response; the KL penalty speaks at every token."""
    mask = batch.mask
    kl = kl_estimate(batch.logprobs, batch.ref_logprobs, config.kl_estimator) * mask  # (B, T)
    rewards = -beta * kl
    last = mask.sum(dim=1) - 1  # (B,) index of each response's final token
    rewards[torch.arange(rewards.shape[0], device=rewards.device), last] += scores
    advantages = gae(rewards, batch.values, mask, config.gamma, config.lam)
    returns = advantages + batch.values
    whitened = masked_whiten(advantages, mask) * mask
    return Advantages(kl=kl, rewards=rewards, advantages=whitened, returns=returns)


class KLController:
    """beta, fixed or adapted towards a target KL per response (Ziegler et al. 2019)."""

    def __init__(self, config: PPOConfig, beta: float | None = None) -> None:
        self.beta = config.kl_coef if beta is None else beta
        self.target = config.kl_target
        self.horizon = config.kl_horizon

    def update(self, kl: float, episodes: int) -> None:
        if self.target is None:
            return
        # Proportional control, error clipped so one noisy batch cannot swing beta wildly.
        error = min(max(kl / self.target - 1.0, -0.2), 0.2)
        self.beta *= 1.0 + error * episodes / self.horizon
