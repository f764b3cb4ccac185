"""DPO's launch entry point: two gloo processes under ``accelerate launch`` match one process,
flags come from the config, and a bad data line is refused with its number."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.trainer.dpo.synthetic import separable_examples
from tests.trainer.launching import CPU_DDP_ENV, accelerate_two_processes
from trainer.policy import adapter_base, is_adapter

REPO = Path(__file__).resolve().parents[3]
FLAGS = [
    "--epochs", "1", "--batch-size", "8", "--learning-rate", "5e-3", "--lora-r", "4",
    "--lora-alpha", "8", "--val-fraction", "0.25", "--warmup-ratio", "0",
    "--loss-type", "robust", "--label-smoothing", "0.1",
]  # fmt: skip


def run(cmd: list[str], extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **extra_env}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The separable pairs as an import file (``pairs`` format), plus a tie to be left out."""
    path = tmp_path_factory.mktemp("dpo-data") / "pairs.jsonl"
    rows = [
        {"prompt": e.prompt, "response_a": e.response_a, "response_b": e.response_b,
         "label": e.choice}
        for e in separable_examples(32)
    ]  # fmt: skip
    rows.append({"prompt": "a tie", "response_a": "one", "response_b": "two", "label": "same"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_two_processes_match_one(tiny_policy: str, data_file: Path, tmp_path: Path) -> None:
    common = ["--data", str(data_file), "--policy-model", tiny_policy, *FLAGS]
    two = run(
        accelerate_two_processes(
            "trainer.dpo.launch", 29531, ["--out", str(tmp_path / "two"), *common]
        ),
        CPU_DDP_ENV,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    both = json.loads(two.stdout.strip().splitlines()[-1])
    one = run(
        [sys.executable, "-m", "trainer.dpo.launch", "--out", str(tmp_path / "one"), *common], {}
    )
    assert one.returncode == 0, one.stderr[-3000:]
    single = json.loads(one.stdout.strip().splitlines()[-1])

    assert (both["num_processes"], single["num_processes"]) == (2.0, 1.0)
    assert both["sync/param_spread"] == 0.0
    assert both["n_train"] == single["n_train"] == 24 and both["n_val"] == 8
    # The same global batches and the same loss scale: the same training, up to float sums.
    for name in ("loss", "rewards/margins", "logps/chosen", "eval/loss", "kl"):
        assert both[name] == pytest.approx(single[name], rel=1e-3, abs=1e-4), name
    assert both["accuracy"] == single["accuracy"]
    assert json.loads((tmp_path / "two" / "metrics.json").read_text()) == both
    assert is_adapter(tmp_path / "two") and adapter_base(tmp_path / "two") == tiny_policy


def test_bad_lines_and_settings_are_refused(
    tiny_policy: str, data_file: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: yo", "rejected": "x"}\n')
    cmd = [sys.executable, "-m", "trainer.dpo.launch", "--policy-model", tiny_policy]
    done = run([*cmd, "--data", str(bad), "--format", "hh", "--out", str(tmp_path / "o")], {})
    assert done.returncode == 2 and "line 1" in done.stderr
    beta = run([*cmd, "--data", str(data_file), "--out", str(tmp_path / "o"), "--beta", "0"], {})
    assert beta.returncode == 2 and "beta must be > 0" in beta.stderr
    assert not (tmp_path / "o").exists()
