"""Command line entry for reward training outside the job queue, on any Accelerate setup.

    python -m trainer.reward.launch --data pairs.jsonl --base-model PATH --out DIR [--epochs 2 ...]
    accelerate launch --num_processes 2 -m trainer.reward.launch --data ... (same flags)

Every ``RewardConfig`` field is a flag (``--learning-rate``, ``--batch-size``, ...). Final
metrics are printed as JSON and written to ``DIR/metrics.json``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from accelerate import PartialState

from trainer.config_flags import add_config_flags, config_from_args
from trainer.context import NullContext
from trainer.default_models import DEFAULT_REWARD, reward_base_path
from trainer.reward.data import read_pairs_jsonl
from trainer.reward.train import RewardConfig, train_reward_model


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train a reward model on labelled pairs.")
    parser.add_argument("--data", type=Path, required=True, help="pairs JSON Lines file")
    parser.add_argument("--base-model", default=DEFAULT_REWARD, help="directory or model id")
    parser.add_argument("--out", type=Path, required=True, help="where the model is saved")
    parser.add_argument(
        "--checkpoint-dir", type=Path, help="resumable state (default OUT/checkpoint)"
    )
    add_config_flags(parser, RewardConfig)
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    args = build_parser().parse_args(argv)
    config: RewardConfig = config_from_args(args, RewardConfig)
    examples = list(read_pairs_jsonl(args.data))
    ctx = NullContext(args.checkpoint_dir or args.out / "checkpoint")
    metrics = train_reward_model(examples, reward_base_path(args.base_model), config, ctx, args.out)
    # Every process holds the same metrics after the evaluation gather; one of them writes.
    state = PartialState()
    if state.is_main_process:
        summary = {**metrics, "processes": float(state.num_processes)}
        (args.out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps(summary))
    return metrics


if __name__ == "__main__":
    main()
