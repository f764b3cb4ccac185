"""Command line entry for reward training outside the job queue, on any Accelerate setup.

    python -m trainer.reward.launch --data pairs.jsonl --base-model PATH --out DIR [--epochs 2 ...]
    accelerate launch --num_processes 2 -m trainer.reward.launch --data ... (same flags)

Every ``RewardConfig`` field is a flag (``--learning-rate``, ``--batch-size``, ...). Final
metrics are printed as JSON and written to ``DIR/metrics.json``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from trainer.default_models import DEFAULT_REWARD, reward_base_path
from trainer.launching import add_run_flags, config_from_args, report, run_context
from trainer.reward.data import read_pairs_jsonl
from trainer.reward.train import RewardConfig, train_reward_model


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train a reward model on labelled pairs.")
    parser.add_argument("--data", type=Path, required=True, help="pairs JSON Lines file")
    parser.add_argument("--base-model", default=DEFAULT_REWARD, help="directory or model id")
    add_run_flags(parser, RewardConfig, out_help="where the model is saved")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    args = build_parser().parse_args(argv)
    config: RewardConfig = config_from_args(args, RewardConfig)
    examples = list(read_pairs_jsonl(args.data))
    base = reward_base_path(args.base_model)
    metrics = train_reward_model(examples, base, config, run_context(args), args.out)
    report(args, metrics)
    return metrics


if __name__ == "__main__":
    main()
