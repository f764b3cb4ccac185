"""Pairs through the policy: their DPO terms under training, and their reference log-probs.

The reference is the same network with the LoRA adapter switched off. Its log-probs are
computed once, before training, by ``reference_logps`` and kept: each training step then
costs one forward pass (chosen and rejected together) instead of two.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from torch import nn

from trainer.dpo.config import DPOConfig
from trainer.dpo.data import EncodedPair
from trainer.dpo.forward import collate, response_lengths, summed_logps
from trainer.dpo.loss import PairTerms, dpo_terms, sequence_scores
from trainer.reward.batches import micro_batches, shard


def pair_terms(
    model: nn.Module,
    pairs: Sequence[EncodedPair],
    idx: Sequence[int],
    ref: torch.Tensor,
    config: DPOConfig,
    pad_id: int,
    device: torch.device,
) -> tuple[PairTerms, torch.Tensor, torch.Tensor]:
    """(terms, chosen scores, rejected scores) of pairs ``idx``; ``ref`` holds every pair's
    summed reference log-probs, (N, 2)."""
    batch = collate([pairs[i] for i in idx], pad_id).to(device)
    chosen, rejected = summed_logps(model, batch)  # (B,), (B,)
    chosen_len, rejected_len = response_lengths(batch)
    ref_chosen, ref_rejected = ref[list(idx)].to(device).unbind(dim=1)  # (B,), (B,)
    margin = torch.tensor([pairs[i].margin for i in idx], device=device)
    scores = (
        sequence_scores(chosen, chosen_len, config.loss_type),
        sequence_scores(rejected, rejected_len, config.loss_type),
    )
    terms = dpo_terms(
        *scores,
        sequence_scores(ref_chosen, chosen_len, config.loss_type),
        sequence_scores(ref_rejected, rejected_len, config.loss_type),
        config,
        margin,
    )
    return terms, *scores


def length_sorted_batches(
    pairs: Sequence[EncodedPair], idx: Sequence[int], batch_size: int, max_tokens: int
) -> list[list[int]]:
    """Inference batches of similar lengths, longest first, within the token cap."""
    lengths = [p.length() for p in pairs]
    ordered = sorted(idx, key=lambda i: -lengths[i])
    out: list[list[int]] = []
    for start in range(0, len(ordered), batch_size):
        # Two rows per pair: halve the cap that micro_batches applies per pair.
        out.extend(micro_batches(ordered[start : start + batch_size], 1, lengths, max_tokens // 2))
    return out


@torch.no_grad()
def reference_logps(
    core: nn.Module,
    pairs: Sequence[EncodedPair],
    accelerator: Accelerator,
    config: DPOConfig,
    pad_id: int,
) -> torch.Tensor:
    """(N, 2) summed log-probs of (chosen, rejected) under the policy with its adapter off.

    Each process scores a share; every process ends with all of them.
    """
    mine = shard(range(len(pairs)), accelerator.process_index, accelerator.num_processes)
    scored: list[tuple[int, float, float]] = []
    with core.disable_adapter():  # type: ignore[operator]
        for idx in length_sorted_batches(
            pairs, mine, config.eval_batch_size, config.max_tokens_per_forward
        ):
            batch = collate([pairs[i] for i in idx], pad_id).to(accelerator.device)
            chosen, rejected = summed_logps(core, batch)
            scored.extend(zip(idx, chosen.tolist(), rejected.tolist(), strict=True))
    if accelerator.num_processes > 1:
        scored = gather_object(scored)
    ref = torch.zeros(len(pairs), 2)
    for i, chosen_logp, rejected_logp in scored:
        ref[i, 0], ref[i, 1] = chosen_logp, rejected_logp
    return ref
