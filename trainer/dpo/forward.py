"""Chosen and rejected responses through the policy in ONE forward pass, as summed log-probs.

Rows are padded on the left, so every response ends at the right edge: the last K positions
(K = the longest response in the batch) hold every response token, and only those positions
go through the LM head (``logits_to_keep``). The prompt's positions never become a
(rows, prompt length, vocabulary) logits tensor, the largest tensor of a small model's step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from trainer.dpo.data import EncodedPair
from trainer.ppo.policy_value import positions


@dataclass(frozen=True)
class PairBatch:
    input_ids: torch.Tensor  # (2B, T): rows 0..B-1 prompt + chosen, rows B..2B-1 prompt + rejected
    attention_mask: torch.Tensor  # (2B, T)
    response_mask: torch.Tensor  # (2B, K): 1 on response tokens among the last K positions

    @property
    def width(self) -> int:
        return int(self.response_mask.shape[1])

    def to(self, device: torch.device) -> PairBatch:
        return PairBatch(
            self.input_ids.to(device), self.attention_mask.to(device), self.response_mask.to(device)
        )


def collate(pairs: Sequence[EncodedPair], pad_id: int) -> PairBatch:
    """Left-padded rows: the chosen side of every pair, then the rejected side."""
    rows = [(p.prompt, p.chosen) for p in pairs] + [(p.prompt, p.rejected) for p in pairs]
    total = max(len(q) + len(r) for q, r in rows)
    width = max(len(r) for _, r in rows)
    input_ids = torch.full((len(rows), total), pad_id, dtype=torch.long)  # (2B, T)
    attention_mask = torch.zeros((len(rows), total), dtype=torch.long)  # (2B, T)
    response_mask = torch.zeros((len(rows), width), dtype=torch.long)  # (2B, K)
    for i, (prompt, response) in enumerate(rows):
        n = len(prompt) + len(response)
        input_ids[i, total - n :] = torch.tensor(prompt + response)
        attention_mask[i, total - n :] = 1
        response_mask[i, width - len(response) :] = 1
    return PairBatch(input_ids, attention_mask, response_mask)


def response_logits(model: nn.Module, batch: PairBatch) -> torch.Tensor:
    """(2B, K, V) float32 logits predicting each of the last K tokens.

    The prediction for token t comes from position t - 1, so K + 1 positions are computed and
    the one after the final token dropped.
    """
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=positions(batch.attention_mask),
        logits_to_keep=batch.width + 1,
        use_cache=False,
    )
    # Models that ignore logits_to_keep return every position; keep the last K + 1 alike.
    logits: torch.Tensor = out.logits[:, -(batch.width + 1) : -1]
    return logits.float()


def token_logps(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[label] without a (rows, K, V) log-softmax copy: (N, K, V) -> (N, K)."""
    picked = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # (N, K)
    return picked - torch.logsumexp(logits, dim=-1)


def summed_logps(model: nn.Module, batch: PairBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) summed response log-probs, each (B,), from one forward pass."""
    logits = response_logits(model, batch)  # (2B, K, V)
    labels = batch.input_ids[:, -batch.width :]  # (2B, K)
    per_token = token_logps(logits, labels) * batch.response_mask  # (2B, K)
    chosen, rejected = per_token.sum(dim=1).chunk(2)
    return chosen, rejected


def response_lengths(batch: PairBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) response token counts, each (B,)."""
    chosen, rejected = batch.response_mask.sum(dim=1).float().chunk(2)
    return chosen, rejected


def token_kl(policy_logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """Exact per-position KL(policy || reference) over the vocabulary: (N, K, V) -> (N, K)."""
    policy_logp = torch.log_softmax(policy_logits, dim=-1)
    ref_logp = torch.log_softmax(ref_logits, dim=-1)
    return (policy_logp.exp() * (policy_logp - ref_logp)).sum(dim=-1)
