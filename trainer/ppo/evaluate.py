"""Held-out comparison of the policy before PPO (the reference) and after."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from trainer.ppo.config import PPOConfig
from trainer.ppo.policy_value import PolicyWithValueHead
from trainer.ppo.rollout import rollout
from trainer.ppo.score import ScoreFn, score_rollout
from trainer.ppo.tensor_ops import kl_estimate


@torch.no_grad()
def evaluate_policies(
    model: PolicyWithValueHead,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[list[dict[str, str]]],
    score_fn: ScoreFn,
    config: PPOConfig,
    stops: list[int],
) -> dict[str, float]:
    """Mean score, KL to the reference (nats per response) and length, for old and new policy.

    Both sample with the same seed, so differences come from the policies, not the dice.
    """
    metrics: dict[str, float] = {}
    for name, use_adapter in (("old", False), ("new", True)):
        scores, kls, lengths, ended = [], [], [], []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed + 7)
            for start in range(0, len(prompts), config.batch_size):
                chunk = prompts[start : start + config.batch_size]
                batch = rollout(model, tokenizer, chunk, config, stops, use_adapter=use_adapter)
                s, _ = score_rollout(batch, chunk, tokenizer, stops, score_fn)
                kl = kl_estimate(batch.logprobs, batch.ref_logprobs, "k1") * batch.mask
                scores.append(s)
                kls.append(kl.sum(dim=1))
                lengths.append(batch.mask.sum(dim=1).float())
                ended.append(batch.ended.float())
        metrics[f"eval/{name}/score"] = torch.cat(scores).mean().item()
        metrics[f"eval/{name}/kl"] = torch.cat(kls).mean().item()
        metrics[f"eval/{name}/length"] = torch.cat(lengths).mean().item()
        metrics[f"eval/{name}/ended_frac"] = torch.cat(ended).mean().item()
    metrics["eval/score_gain"] = metrics["eval/new/score"] - metrics["eval/old/score"]
    metrics["eval/prompts"] = float(len(prompts))
    return metrics
