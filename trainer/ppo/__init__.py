"""PPO for language policies: rollout, score, advantages and update, run by ``train_ppo``."""

from trainer.ppo.config import PPOConfig
from trainer.ppo.score import ScoreFn
from trainer.ppo.train import train_ppo

__all__ = ["PPOConfig", "ScoreFn", "train_ppo"]
