"""The real default reward model (all-MiniLM-L6-v2) trains on real HH preference pairs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from trainer.context import NullContext
from trainer.default_models import DEFAULT_REWARD, reward_base_path
from trainer.jobs.preference_files import read_preference_file
from trainer.reward.config import RewardConfig
from trainer.reward.data import randomise_sides
from trainer.reward.train import train_reward_model

HH_HELPFUL = Path("/work/shared/data/hh-helpful-base-2354.jsonl.gz")


@pytest.mark.slow
@pytest.mark.skipif(not HH_HELPFUL.exists(), reason="shared HH data not present")
def test_default_model_trains_on_hh_pairs(tmp_path: Path) -> None:
    examples = randomise_sides(read_preference_file(HH_HELPFUL, "hh").examples[:64], seed=0)
    assert {e.choice for e in examples} == {"better", "worse"}
    base = Path(reward_base_path(DEFAULT_REWARD))
    config = RewardConfig(
        epochs=1, batch_size=16, learning_rate=5e-5, max_length=64, val_fraction=0.125, log_every=1
    )
    ctx = NullContext(tmp_path / "ckpt")
    metrics = train_reward_model(examples, str(base), config, ctx, tmp_path / "model")

    assert metrics["n_train"] == 56 and metrics["n_val"] == 8
    train_losses = [m["train_loss"] for _, _, m in ctx.reports if "train_loss" in m]
    assert len(train_losses) == 4
    assert all(math.isfinite(x) for x in [*train_losses, metrics["loss"], metrics["margin"]])
    before = load_file(base / "model.safetensors")
    after = load_file(tmp_path / "model" / "model.safetensors")
    name = next(k for k in after if k.endswith("layer.5.output.dense.weight"))
    before_name = next(k for k in before if k.endswith("layer.5.output.dense.weight"))
    assert not torch.equal(after[name], before[before_name])
