"""Score phase: the reward model judges each decoded response once, at its end."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from transformers import PreTrainedTokenizerBase

from trainer.generation import decode_response
from trainer.ppo.rollout import Rollout

# (prompts, response texts) -> (N,) scores. Works on text, so the reward model may use any
# tokenizer (ours does: a cross-encoder with its own vocabulary).
ScoreFn = Callable[[Sequence[list[dict[str, str]]], Sequence[str]], torch.Tensor]


def score_rollout(
    batch: Rollout,
    prompts: Sequence[list[dict[str, str]]],
    tokenizer: PreTrainedTokenizerBase,
    stops: list[int],
    score_fn: ScoreFn,
) -> tuple[torch.Tensor, list[str]]:
    """(raw scores (B,) on the rollout's device, response texts cut at their stop token)."""
    texts = [decode_response(tokenizer, row, stops) for row in batch.responses.cpu()]
    scores = score_fn(prompts, texts).detach().float().reshape(-1)
    if scores.shape[0] != len(texts):
        raise ValueError(f"score_fn returned {scores.shape[0]} scores for {len(texts)} responses")
    return scores.to(batch.responses.device), texts


def penalise_unended(scores: torch.Tensor, ended: torch.Tensor, penalty: float) -> torch.Tensor:
    """Scores (B,) less ``penalty`` where a response ran out of room instead of ending.

    Without it the policy learns that rambling to the limit is safe (Huang et al. 2024).
    """
    return scores - penalty * (~ended).to(scores.dtype)
