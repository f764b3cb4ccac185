"""Reward model training, scoring and evaluation (pure training code: no database)."""
