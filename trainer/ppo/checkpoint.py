"""Everything a re-claimed PPO job needs to go on where the last one stopped."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainer.ppo.config import PPOConfig
from trainer.ppo.policy_value import load_trainable_state, trainable_state

CHECKPOINT_FILE = "ppo_checkpoint.pt"


@dataclass
class TrainState:
    step: int = 0  # PPO steps done
    beta: float = 0.0  # current KL coefficient (adaptive control changes it)
    # Adapter and value head as of the last rollout within the KL budget: what the guard restores.
    last_good: dict[str, torch.Tensor] | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # the last step's


def save_checkpoint(
    directory: Path,
    model: nn.Module,
    optimizer: Any,
    scheduler: Any,
    state: TrainState,
    config: PPOConfig,
    policy_path: str,
) -> None:
    """Writes atomically (temp file, then rename): a crash mid-write keeps the previous one."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "step": state.step,
        "beta": state.beta,
        "last_good": state.last_good,
        "metrics": state.metrics,
        "trainable": trainable_state(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
        },
        "config": config.to_dict(),
        "policy_path": policy_path,
    }
    tmp = directory / f".{CHECKPOINT_FILE}.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, directory / CHECKPOINT_FILE)


def load_checkpoint(
    directory: Path,
    model: nn.Module,
    optimizer: Any,
    scheduler: Any,
    config: PPOConfig,
    policy_path: str,
) -> TrainState | None:
    """Restores model, optimiser, schedule and RNG from the last checkpoint, if there is one."""
    path = directory / CHECKPOINT_FILE
    if not path.is_file():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload["config"] != config.to_dict() or payload["policy_path"] != policy_path:
        raise ValueError(f"{path} was written by a run with another config or policy")
    load_trainable_state(model, payload["trainable"])
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    torch.set_rng_state(payload["rng"]["torch"])
    if payload["rng"]["cuda"]:
        torch.cuda.set_rng_state_all(payload["rng"]["cuda"])
    random.setstate(payload["rng"]["python"])
    return TrainState(
        step=payload["step"],
        beta=payload["beta"],
        last_good=payload["last_good"],
        metrics=payload["metrics"],
    )
