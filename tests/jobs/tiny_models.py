"""Tiny random models built offline for job tests: a BERT reward model and a chat policy."""

from __future__ import annotations

from tests.trainer.ppo.tiny_policy import save_tiny_policy
from tests.trainer.reward.tiny_model import build_tiny_reward_model as save_tiny_reward_base

__all__ = ["save_tiny_policy", "save_tiny_reward_base"]
