"""Job parameter schemas stay in step with the training configs they are turned into."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from app.schemas.dpo import DPOParams
from app.schemas.jobs import GenerateParams, IterateParams, PPOParams
from app.schemas.reward import RewardParams
from trainer.dpo.config import DPOConfig
from trainer.generation import GenerationConfig
from trainer.ppo.config import PPOConfig
from trainer.reward.config import RewardConfig


@pytest.mark.parametrize(
    ("schema", "config"),
    [
        (RewardParams, RewardConfig),
        (PPOParams, PPOConfig),
        (DPOParams, DPOConfig),
        (GenerateParams, GenerationConfig),
    ],
)
def test_params_name_every_config_field_with_the_same_default(
    schema: type[BaseModel], config: type[Any]
) -> None:
    params = schema()
    mapped = params.config_fields()  # type: ignore[attr-defined]
    assert set(mapped) == {f.name for f in fields(config)}
    assert config(**mapped) == config()


def test_reward_params_describe_each_field_as_the_config_does() -> None:
    described = RewardParams.model_fields
    for field in fields(RewardConfig):
        assert field.metadata.get("help"), f"{field.name} has no help text"
        assert described[field.name].description == field.metadata["help"], field.name
        assert described[field.name].default == field.default, field.name


def test_reward_config_is_torch_free_and_still_importable_from_train() -> None:
    # A fresh interpreter: torch may already be loaded in this one by other tests.
    code = (
        "import sys, trainer.reward.config; "
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    from trainer.reward import train

    assert train.RewardConfig is RewardConfig


def test_unknown_and_bad_params_are_refused() -> None:
    with pytest.raises(ValidationError, match="epochz"):
        RewardParams.model_validate({"epochz": 2})
    with pytest.raises(ValidationError, match="multiple"):
        PPOParams.model_validate({"batch_size": 6, "num_mini_batches": 4})
    with pytest.raises(ValidationError):
        GenerateParams.model_validate({"temperature": 0})
    with pytest.raises(ValidationError, match="reward_version_id"):
        IterateParams.model_validate({"ppo": {"reward_version_id": 3}})
    with pytest.raises(ValidationError, match="omit version ids"):
        IterateParams.model_validate({"generate": {"policy_version_id": 3}})
