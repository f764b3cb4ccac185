"""Scoring (prompt, response) pairs with a trained reward model, e.g. for PPO rewards."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from trainer.reward.model import load_reward_model
from trainer.reward.text import PairEncoder, render_conversation


class RewardScorer:
    """A frozen reward model that turns (conversation, response) pairs into scalar scores.

    An ensemble's score is the mean of its (centred) heads and its uncertainty their standard
    deviation; a length head, if the model was trained with one, is never part of the score.
    """

    def __init__(
        self,
        model_path: str | Path,
        device: str | torch.device = "cpu",
        max_length: int = 512,
        batch_size: int = 16,
    ) -> None:
        self.device = torch.device(device)
        model, tokenizer, self.layout = load_reward_model(model_path)
        self.model = model.to(self.device).eval()
        limit = getattr(model.config, "max_position_embeddings", None)
        self.encoder = PairEncoder(tokenizer, min(max_length, limit) if limit else max_length)
        self.batch_size = batch_size

    @property
    def gives_uncertainty(self) -> bool:
        return self.layout.reward_heads > 1

    def score(
        self, prompts: Sequence[list[dict[str, str]]], responses: Sequence[str]
    ) -> torch.Tensor:
        """Scores, shape (N,), float32 on the CPU, in the order given."""
        return self.head_scores(prompts, responses).mean(dim=1)

    def score_with_uncertainty(
        self, prompts: Sequence[list[dict[str, str]]], responses: Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(scores (N,), uncertainties (N,)): the heads' mean and standard deviation; the
        uncertainty is None for a model with a single reward head."""
        heads = self.head_scores(prompts, responses)  # (N, K)
        spread = heads.std(dim=1, unbiased=False) if self.gives_uncertainty else None
        return heads.mean(dim=1), spread

    @torch.inference_mode()
    def head_scores(
        self, prompts: Sequence[list[dict[str, str]]], responses: Sequence[str]
    ) -> torch.Tensor:
        """Each reward head's centred score, shape (N, K), float32 on the CPU."""
        if len(prompts) != len(responses):
            raise ValueError("prompts and responses differ in length")
        encoded = self.encoder.encode([render_conversation(p) for p in prompts], responses)
        # Score in length order so each batch pads little, then put scores back in place.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
        scores = torch.empty(len(encoded), self.layout.reward_heads, dtype=torch.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.encoder.pad([encoded[i] for i in idx])
            logits = self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits
            scores[idx] = self.layout.rewards(logits).float().cpu()  # (B, K)
        return scores
