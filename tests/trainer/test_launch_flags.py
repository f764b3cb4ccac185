"""The launch entry points' flags: typed by HfArgumentParser from the config dataclasses."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.launching import config_flags
from trainer.ppo import launch as ppo_launch
from trainer.ppo.config import PPOConfig
from trainer.reward import launch as reward_launch
from trainer.reward.train import RewardConfig

PPO_REQUIRED = ["--prompts", "p.jsonl", "--policy", "pol", "--reward", "rew", "--out", "o"]
REWARD_REQUIRED = ["--data", "pairs.jsonl", "--out", "o"]


def parse_ppo(*flags: str) -> PPOConfig:
    config, _ = ppo_launch.build_parser().parse([*PPO_REQUIRED, *flags])
    return config


def test_flags_parse_to_the_field_types() -> None:
    config = parse_ppo(
        "--total-steps", "7", "--learning_rate", "1e-3", "--kl-estimator", "k3",
        "--lora-target-modules", "q_proj,v_proj", "--kl-target", "6",
    )  # fmt: skip
    assert config.total_steps == 7 and isinstance(config.total_steps, int)
    assert config.learning_rate == 1e-3 and isinstance(config.learning_rate, float)
    assert config.kl_estimator == "k3"
    assert config.lora_target_modules == "q_proj,v_proj"
    assert config.kl_target == 6.0 and isinstance(config.kl_target, float)
    # Untouched fields keep the dataclass defaults.
    assert config.batch_size == PPOConfig().batch_size


def test_other_flags_come_back_apart_from_the_config() -> None:
    config, args = reward_launch.build_parser().parse([*REWARD_REQUIRED, "--epochs", "3"])
    assert config == RewardConfig(epochs=3)
    assert args.data == Path("pairs.jsonl") and args.out == Path("o") and args.handoff is None
    assert not hasattr(args, "epochs")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--anneal-lr", "false"], False),
        (["--anneal-lr", "no"], False),
        (["--no-anneal-lr"], False),
        (["--anneal-lr"], True),
        (["--anneal-lr", "true"], True),
        ([], True),
    ],
)
def test_booleans(flags: list[str], expected: bool) -> None:
    assert parse_ppo(*flags).anneal_lr is expected


def test_none_for_fields_that_may_be_none_only() -> None:
    assert parse_ppo("--kl-budget", "none").kl_budget is None
    assert parse_ppo("--kl-budget", "None").kl_budget is None
    assert parse_ppo().kl_budget == PPOConfig().kl_budget
    with pytest.raises(SystemExit) as refused:
        parse_ppo("--kl-horizon", "none")
    assert refused.value.code == 2


@pytest.mark.parametrize(
    "flags",
    [
        ["--no-such-flag", "1"],
        ["--total-steps", "many"],
        ["--kl-estimator", "k2"],
        ["--anneal-lr", "maybe"],
        # The config's own checks are a usage error too.
        ["--batch-size", "5", "--num-mini-batches", "2"],
    ],
)
def test_bad_flags_are_refused(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        parse_ppo(*flags)
    assert refused.value.code == 2
    assert "error" in capsys.readouterr().err


def test_config_flags_read_back_into_the_same_config() -> None:
    """What the worker writes on the command line is what the launched run trains with."""
    ppo = PPOConfig(
        total_steps=3, anneal_lr=False, kl_budget=None, kl_target=4.5, kl_estimator="k3",
        learning_rate=3e-6, batch_size=6, num_mini_batches=3,
    )  # fmt: skip
    assert parse_ppo(*config_flags(ppo)) == ppo
    reward = RewardConfig(epochs=2, use_margin=False, learning_rate=1.5e-4, val_fraction=0.2)
    config, _ = reward_launch.build_parser().parse([*REWARD_REQUIRED, *config_flags(reward)])
    assert config == reward


def test_every_ppo_field_has_help() -> None:
    missing = [f.name for f in dataclasses.fields(PPOConfig) if not f.metadata.get("help")]
    assert missing == []


def test_ppo_config_imports_without_torch() -> None:
    code = "import sys, trainer.ppo.config; sys.exit('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
