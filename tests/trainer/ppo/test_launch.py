"""PPO's launch entry point: one process, two gloo processes under ``accelerate launch``, and
the line-numbered refusal of a bad prompts file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.trainer.launching import CPU_DDP_ENV, accelerate_two_processes
from tests.trainer.ppo.tiny_policy import PROMPTS
from tests.trainer.reward.tiny_model import build_tiny_reward_model
from trainer.policy import adapter_base, is_adapter

REPO = Path(__file__).resolve().parents[3]
FLAGS = [
    "--total-steps", "2", "--batch-size", "4", "--num-mini-batches", "2", "--ppo-epochs", "2",
    "--response-length", "8", "--learning-rate", "3e-3", "--eval-prompts", "2",
    "--kl-budget", "none", "--checkpoint-every", "100",
]  # fmt: skip


def run(cmd: list[str], extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **extra_env}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prompts") / "prompts.jsonl"
    lines = [{"prompt": m} for m in PROMPTS] + [{"prompt": "a plain string prompt"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_reward_model(tmp_path_factory.mktemp("reward"))


def test_two_processes_train_in_step_and_write_one_adapter(
    tiny_policy: str, prompts_file: Path, reward_dir: Path, tmp_path: Path
) -> None:
    common = ["--prompts", str(prompts_file), "--policy", tiny_policy, "--reward", str(reward_dir)]
    done = run(
        accelerate_two_processes(
            "trainer.ppo.launch", 29519, ["--out", str(tmp_path / "two"), *common, *FLAGS]
        ),
        CPU_DDP_ENV,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["num_processes"] == 2 and metrics["steps"] == 2
    # Each process sampled its own prompts, so unsynchronised gradients would part them.
    assert metrics["sync/param_spread"] == 0.0
    assert metrics["policy/approxkl_avg"] > 0  # the policy did move
    assert is_adapter(tmp_path / "two") and adapter_base(tmp_path / "two") == tiny_policy
    assert json.loads((tmp_path / "two" / "metrics.json").read_text()) == metrics

    one = run(
        [sys.executable, "-m", "trainer.ppo.launch", "--out", str(tmp_path / "one"), *common,
         *FLAGS],
        {},
    )  # fmt: skip
    assert one.returncode == 0, one.stderr[-3000:]
    single = json.loads(one.stdout.strip().splitlines()[-1])
    assert single["num_processes"] == 1 and single["sync/param_spread"] == 0.0


def test_a_bad_prompts_line_is_refused_with_its_number(
    tiny_policy: str, reward_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "fine"}\n\n{"prompt": [{"role": "robot", "content": "x"}]}\n')
    done = run(
        [sys.executable, "-m", "trainer.ppo.launch", "--prompts", str(bad), "--policy",
         tiny_policy, "--reward", str(reward_dir), "--out", str(tmp_path / "out")],
        {},
    )  # fmt: skip
    assert done.returncode == 2
    assert "line 3" in done.stderr and "unknown role 'robot'" in done.stderr
    assert not (tmp_path / "out").exists()
