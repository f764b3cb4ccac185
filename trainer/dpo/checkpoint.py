"""A DPO run's resumable state: adapter, optimiser, schedule, step and the reference log-probs.

The reference log-probabilities are part of the state: they were computed once, with the
adapter off, before the first step, and a resumed run goes on with the very same numbers
rather than recomputing them (slow, and on another machine maybe not bit-identical).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from torch import nn

from trainer.dpo.config import DPOConfig
from trainer.ppo.policy_value import load_trainable_state, trainable_state

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "dpo_checkpoint.pt"


@dataclass
class TrainState:
    ref_train: torch.Tensor  # (N, 2) summed reference log-probs: chosen, rejected
    ref_val: torch.Tensor  # (M, 2)
    step: int = 0  # optimiser steps done
    metrics: dict[str, float] = field(default_factory=dict)  # the last reported


def save_checkpoint(
    directory: Path,
    accelerator: Accelerator,
    model: nn.Module,
    optimizer: Any,
    scheduler: Any,
    state: TrainState,
    config: DPOConfig,
    fingerprint: str,
) -> None:
    """Written by the main process, atomically: a crash mid-write keeps the previous one."""
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "trainable": trainable_state(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": state.step,
            "metrics": state.metrics,
            "ref_train": state.ref_train,
            "ref_val": state.ref_val,
            "config": config.to_dict(),
            "fingerprint": fingerprint,
        }
        tmp = directory / f".{CHECKPOINT_FILE}.tmp"
        torch.save(payload, tmp)
        os.replace(tmp, directory / CHECKPOINT_FILE)
    accelerator.wait_for_everyone()


def load_checkpoint(
    directory: Path,
    model: nn.Module,
    optimizer: Any,
    scheduler: Any,
    config: DPOConfig,
    fingerprint: str,
) -> TrainState | None:
    """Restores what ``save_checkpoint`` wrote (every process reads it); None when there is
    none, or when it belongs to other data or settings (then training starts afresh)."""
    path = directory / CHECKPOINT_FILE
    if not path.is_file():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload["config"] != config.to_dict() or payload["fingerprint"] != fingerprint:
        log.warning("%s is for other data or settings; starting afresh", path)
        return None
    load_trainable_state(model, payload["trainable"])
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    return TrainState(
        ref_train=payload["ref_train"],
        ref_val=payload["ref_val"],
        step=int(payload["step"]),
        metrics=dict(payload["metrics"]),
    )
