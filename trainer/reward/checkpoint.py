"""A reward run's resumable state: weights, optimizer, schedule, step, RNG and config."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from torch.optim.lr_scheduler import LRScheduler

from trainer.reward.config import RewardConfig
from trainer.reward.data import PreferenceExample

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "reward.pt"


def data_fingerprint(examples: Sequence[PreferenceExample], base_model: str) -> str:
    """Identifies the training data: a resumed run must see exactly the same examples."""
    h = hashlib.sha256(base_model.encode())
    for e in examples:
        h.update(json.dumps(asdict(e), sort_keys=True).encode())
    return h.hexdigest()


def save_checkpoint(
    directory: Path,
    accelerator: Accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LRScheduler,
    step: int,
    config: RewardConfig,
    fingerprint: str,
) -> None:
    accelerator.wait_for_everyone()
    directory.mkdir(parents=True, exist_ok=True)
    # Dropout masks differ per process, so each keeps its own generator state.
    torch.save(torch.get_rng_state(), directory / f"rng-{accelerator.process_index}.pt")
    if accelerator.is_main_process:
        state = {
            "model": accelerator.unwrap_model(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": step,
            "config": asdict(config),
            "fingerprint": fingerprint,
        }
        path = directory / CHECKPOINT_FILE
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)  # a crash mid-write leaves the previous checkpoint intact
    accelerator.wait_for_everyone()


def load_checkpoint(
    directory: Path,
    accelerator: Accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LRScheduler,
    config: RewardConfig,
    fingerprint: str,
) -> int:
    """Restores state saved by ``save_checkpoint`` and returns its step; 0 when there is none."""
    path = directory / CHECKPOINT_FILE
    if not path.exists():
        return 0
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    if state["config"] != asdict(config) or state["fingerprint"] != fingerprint:
        log.warning("checkpoint in %s is for other data or settings; starting afresh", directory)
        return 0
    accelerator.unwrap_model(model).load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng = directory / f"rng-{accelerator.process_index}.pt"
    if rng.exists():
        torch.set_rng_state(torch.load(rng, weights_only=True))
    return int(state["step"])
