"""Held-out pairs: how often the implicit reward prefers the chosen response, and how far
the policy has moved from its reference.

The implicit reward of a response is beta (log pi - log ref); ``accuracy`` is the share of
held-out pairs whose chosen response gets the higher one (a tie counts as wrong), with its
binomial standard error. ``kl`` is the exact KL(policy || reference) summed over response
tokens, averaged over held-out responses: measured on the data's responses, not on samples
of the policy, so it is cheap and free of sampling noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from torch import nn

from trainer.dpo.config import DPOConfig
from trainer.dpo.data import EncodedPair
from trainer.dpo.forward import collate, response_logits, token_kl
from trainer.dpo.scoring import length_sorted_batches, pair_terms
from trainer.reward.batches import shard


@torch.no_grad()
def evaluate_pairs(
    core: nn.Module,
    accelerator: Accelerator,
    pairs: Sequence[EncodedPair],
    ref: torch.Tensor,
    config: DPOConfig,
    pad_id: int,
) -> dict[str, float]:
    """Held-out metrics; each process scores a share, then every process has them all."""
    if not pairs:
        return {}
    was_training = core.training
    core.eval()
    mine = shard(range(len(pairs)), accelerator.process_index, accelerator.num_processes)
    rows: list[tuple[float, float, float, float]] = []
    device = accelerator.device
    for idx in length_sorted_batches(
        pairs, mine, config.eval_batch_size, config.max_tokens_per_forward
    ):
        terms, _, _ = pair_terms(core, pairs, idx, ref, config, pad_id, device)
        kl = response_kl(core, [pairs[i] for i in idx], pad_id, device)  # (B,)
        rows.extend(
            zip(
                terms.losses.tolist(),
                terms.chosen_rewards.tolist(),
                terms.rejected_rewards.tolist(),
                kl.tolist(),
                strict=True,
            )
        )
    if accelerator.num_processes > 1:
        rows = gather_object(rows)
    core.train(was_training)
    losses, chosen, rejected, kl = torch.tensor(rows, dtype=torch.float64).unbind(dim=1)
    n = len(rows)
    accuracy = float((chosen > rejected).double().mean())
    return {
        "accuracy": accuracy,
        "accuracy_se": math.sqrt(accuracy * (1 - accuracy) / n),
        "eval/loss": float(losses.mean()),
        "eval/rewards/chosen": float(chosen.mean()),
        "eval/rewards/rejected": float(rejected.mean()),
        "eval/rewards/accuracies": accuracy,
        "eval/rewards/margins": float((chosen - rejected).mean()),
        "kl": float(kl.mean()),
        "n_val": float(n),
    }


def response_kl(
    core: nn.Module, pairs: Sequence[EncodedPair], pad_id: int, device: torch.device
) -> torch.Tensor:
    """Per pair, the mean over its two responses of the summed token KL to the reference."""
    batch = collate(pairs, pad_id).to(device)
    policy = response_logits(core, batch)  # (2B, K, V)
    with core.disable_adapter():  # type: ignore[operator]
        ref = response_logits(core, batch)  # (2B, K, V)
    per_row = (token_kl(policy, ref) * batch.response_mask).sum(dim=1)  # (2B,)
    chosen, rejected = per_row.chunk(2)
    return (chosen + rejected) / 2
