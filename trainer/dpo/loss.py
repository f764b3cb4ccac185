"""The DPO family of losses on per-sequence log-probabilities: pure tensor maths.

With h = (log pi(chosen) - log ref(chosen)) - (log pi(rejected) - log ref(rejected)):

- ``sigmoid`` (Rafailov et al. 2023): -log sigma(beta h). With label smoothing e it becomes
  conservative DPO: -(1 - e) log sigma(beta h) - e log sigma(-beta h), the loss against a
  soft target that trusts each label with probability 1 - e.
- ``robust`` (Chowdhury et al. 2024, "Provably Robust DPO"): (-(1 - e) log sigma(beta h)
  + e log sigma(-beta h)) / (1 - 2e), an unbiased estimate of the clean-label loss when a
  share e of labels is flipped at random: noisy human labels are what this loop collects.
- ``ipo`` (Azar et al. 2023): (h - 1 / (2 beta))^2 on length-averaged log-probs; it keeps
  regressing to a fixed gap instead of pushing the gap to infinity on separable data.

A pair's margin (label strength) is subtracted from beta h in the sigmoid and robust losses:
"much better" must win by more than "slightly better". IPO's target gap ignores it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainer.dpo.config import DPOConfig


@dataclass(frozen=True)
class PairTerms:
    losses: torch.Tensor  # (B,)
    chosen_rewards: torch.Tensor  # (B,) beta (log pi - log ref) of the chosen response
    rejected_rewards: torch.Tensor  # (B,)


def sequence_scores(
    summed_logps: torch.Tensor, lengths: torch.Tensor, loss_type: str
) -> torch.Tensor:
    """What a loss compares: summed log-probs, or per-token means for IPO. (B,) -> (B,)."""
    if loss_type == "ipo":
        return summed_logps / lengths.clamp(min=1)
    return summed_logps


def dpo_terms(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    config: DPOConfig,
    margin: torch.Tensor | None = None,
) -> PairTerms:
    """Per-pair losses and implicit rewards; all inputs (B,) sequence scores."""
    chosen_ratio = policy_chosen - ref_chosen  # (B,)
    rejected_ratio = policy_rejected - ref_rejected  # (B,)
    h = chosen_ratio - rejected_ratio  # (B,)
    beta, e = config.beta, config.label_smoothing
    if config.loss_type == "ipo":
        losses = (h - 1 / (2 * beta)) ** 2
    else:
        logits = beta * h - (margin if margin is not None else 0.0)
        if config.loss_type == "sigmoid":
            losses = -(1 - e) * F.logsigmoid(logits) - e * F.logsigmoid(-logits)
        elif config.loss_type == "robust":
            losses = (-(1 - e) * F.logsigmoid(logits) + e * F.logsigmoid(-logits)) / (1 - 2 * e)
        else:
            raise ValueError(f"unknown loss_type {config.loss_type!r}")
    return PairTerms(losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach())


def pair_metric_sums(
    terms: PairTerms, policy_chosen: torch.Tensor, policy_rejected: torch.Tensor
) -> torch.Tensor:
    """Sums over the pairs of what ``METRICS`` names, in that order: (len(METRICS),).

    Sums, not means, so that shares of a batch on several processes add up exactly.
    """
    chosen, rejected = terms.chosen_rewards, terms.rejected_rewards
    return torch.stack(
        [
            terms.losses.detach().sum(),
            chosen.sum(),
            rejected.sum(),
            (chosen > rejected).float().sum(),
            (chosen - rejected).sum(),
            policy_chosen.detach().sum(),
            policy_rejected.detach().sum(),
        ]
    )


# TRL's DPOTrainer names, so dashboards and habits carry over.
METRICS = (
    "loss",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "logps/chosen",
    "logps/rejected",
)
