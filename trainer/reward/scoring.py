"""Scoring (prompt, response) pairs with a trained reward model, e.g. for PPO rewards."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from trainer.reward.model import load_reward_model
from trainer.reward.text import PairEncoder, render_conversation


class RewardScorer:
    """A frozen reward model that turns (conversation, response) pairs into scalar scores."""

    def __init__(
        self,
        model_path: str | Path,
        device: str | torch.device = "cpu",
        max_length: int = 512,
        batch_size: int = 16,
    ) -> None:
        self.device = torch.device(device)
        model, tokenizer = load_reward_model(model_path)
        self.model = model.to(self.device).eval()
        limit = getattr(model.config, "max_position_embeddings", None)
        self.encoder = PairEncoder(tokenizer, min(max_length, limit) if limit else max_length)
        self.batch_size = batch_size

    @torch.inference_mode()
    def score(
        self, prompts: Sequence[list[dict[str, str]]], responses: Sequence[str]
    ) -> torch.Tensor:
        """Scores, shape (N,), float32 on the CPU, in the order given."""
        if len(prompts) != len(responses):
            raise ValueError("prompts and responses differ in length")
        encoded = self.encoder.encode([render_conversation(p) for p in prompts], responses)
        # Score in length order so each batch pads little, then put scores back in place.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
        scores = torch.empty(len(encoded), dtype=torch.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.encoder.pad([encoded[i] for i in idx])
            logits = self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits  # (B, 1)
            scores[idx] = logits[:, 0].float().cpu()
        return scores
