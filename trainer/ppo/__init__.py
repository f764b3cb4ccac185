"""PPO for language policies: rollout, score, advantages and update, run by
``trainer.ppo.train.train_ppo`` with a ``trainer.ppo.config.PPOConfig``.

Nothing is imported here: the config (and the launch flags built from it) loads without torch.
"""
