"""The launch entry point, in one process and in two gloo processes under ``accelerate launch``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.trainer.launching import CPU_DDP_ENV, accelerate_two_processes
from tests.trainer.reward.synthetic import keyword_examples

REPO = Path(__file__).resolve().parents[3]
# 89 training pairs in batches of 8: the last global batch holds one pair, so one of the two
# processes has an empty share of it.
FLAGS = ["--batch-size", "8", "--epochs", "2", "--learning-rate", "3e-3", "--max-length", "64"]


def run(cmd: list[str], extra_env: dict[str, str]) -> dict[str, float]:
    # One thread per process so that both runs sum floats in the same order.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **extra_env}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def reward_pairs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    path.write_text("".join(json.dumps(asdict(e)) + "\n" for e in keyword_examples(99)))
    return path


def test_two_processes_match_one(
    reward_tiny_model: Path, reward_pairs_file: Path, tmp_path: Path
) -> None:
    common = ["--data", str(reward_pairs_file), "--base-model", str(reward_tiny_model), *FLAGS]
    one = run(
        [sys.executable, "-m", "trainer.reward.launch", "--out", str(tmp_path / "one"), *common],
        {},
    )
    two = run(
        accelerate_two_processes(
            "trainer.reward.launch", 29517, ["--out", str(tmp_path / "two"), *common]
        ),
        CPU_DDP_ENV,
    )
    assert one["num_processes"] == 1 and two["num_processes"] == 2
    assert one["n_train"] == two["n_train"] == 89
    assert one["accuracy"] >= 0.9
    for key in ("accuracy", "loss", "margin", "ece"):
        assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-5), key
    w1, w2 = (
        load_file(tmp_path / "one" / "model.safetensors"),
        load_file(tmp_path / "two" / "model.safetensors"),
    )
    w0 = load_file(reward_tiny_model / "model.safetensors")
    # The head's bias (cancels in r1 - r2) and attention key biases (softmax ignores a shift)
    # have zero gradient in exact maths; their float noise, scaled by Adam, moves them by
    # lr-sized steps in either run. All else must agree to float-summation noise.
    names = [k for k in w1 if not k.endswith(("classifier.bias", "key.bias"))]
    moved = torch.cat([(w1[k] - w0[k]).flatten() for k in names]).norm()
    apart = torch.cat([(w2[k] - w1[k]).flatten() for k in names]).norm()
    assert apart < 1e-3 * moved
