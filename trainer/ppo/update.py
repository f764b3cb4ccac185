"""Update phase: several epochs of clipped PPO over shuffled mini-batches of one rollout."""

from __future__ import annotations

from collections import defaultdict

import torch
from accelerate import Accelerator

from trainer.ppo.advantages import Advantages
from trainer.ppo.config import PPOConfig
from trainer.ppo.policy_value import forward_responses
from trainer.ppo.rollout import Rollout
from trainer.ppo.tensor_ops import (
    clipped_policy_loss,
    clipped_value_loss,
    entropy_of,
    logprobs_of,
    masked_mean,
)


def ppo_update(
    accelerator: Accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Rollout,
    adv: Advantages,
    config: PPOConfig,
) -> dict[str, float]:
    """Trains on one rollout; returns the mean of each statistic over all mini-batch steps."""
    model.train()
    n = batch.responses.shape[0]
    size = n // config.num_mini_batches
    stats: defaultdict[str, list[torch.Tensor]] = defaultdict(list)
    for _ in range(config.ppo_epochs):
        order = torch.randperm(n, device=batch.responses.device)
        for start in range(0, n, size):
            step_stats = minibatch_step(
                accelerator, model, optimizer, batch, adv, order[start : start + size], config
            )
            for name, value in step_stats.items():
                stats[name].append(value)
    return {name: torch.stack(values).mean().item() for name, values in stats.items()}


def minibatch_step(
    accelerator: Accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Rollout,
    adv: Advantages,
    idx: torch.Tensor,
    config: PPOConfig,
) -> dict[str, torch.Tensor]:
    mask = batch.mask[idx]  # (b, T)
    logits, values = forward_responses(
        model,
        batch.query_responses[idx],
        batch.attention_mask[idx],
        batch.width,
        config.temperature,
    )  # (b, T, V), (b, T)
    logprobs = logprobs_of(logits, batch.responses[idx])  # (b, T)
    old_logprobs = batch.logprobs[idx]
    pg_loss, pg_clipfrac = clipped_policy_loss(
        logprobs, old_logprobs, adv.advantages[idx], mask, config.clip_range
    )
    vf_loss, vf_clipfrac = clipped_value_loss(
        values, batch.values[idx], adv.returns[idx], mask, config.clip_range_value
    )
    loss = pg_loss + config.vf_coef * vf_loss
    accelerator.backward(loss)
    if config.max_grad_norm > 0:
        accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    with torch.no_grad():
        log_ratio = (logprobs - old_logprobs) * mask
        return {
            "policy/approxkl_avg": 0.5 * masked_mean(log_ratio**2, mask),
            "policy/clipfrac_avg": pg_clipfrac,
            "policy/entropy_avg": masked_mean(entropy_of(logits), mask),
            "loss/policy_avg": pg_loss.detach(),
            "loss/value_avg": vf_loss.detach(),
            "val/clipfrac_avg": vf_clipfrac,
            "val/ratio": masked_mean(torch.exp(log_ratio), mask),
        }
