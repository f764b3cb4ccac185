"""Command line entry for reward training, on any Accelerate setup; the worker runs it too.

    python -m trainer.reward.launch --data pairs.jsonl --base-model PATH --out DIR [--epochs 2 ...]
    accelerate launch --num_processes 2 -m trainer.reward.launch --data ... (same flags)

Every ``RewardConfig`` field is a flag (``--learning-rate``, ``--batch-size``, ...; ``--help``
lists them). ``--data`` takes pairs files and raw exports: rows of one comparison (the same
``group``, or in a raw export the same ``comparison_id``) stay on one side of the train and
validation split. Final metrics are printed as JSON and written to ``DIR/metrics.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from trainer.default_models import DEFAULT_REWARD, reward_base_path
from trainer.launching import ConfigParser, add_run_flags, run_and_report
from trainer.reward.data import read_pairs_jsonl
from trainer.reward.train import RewardConfig, train_reward_model


def build_parser() -> ConfigParser[RewardConfig]:
    parser = ConfigParser(RewardConfig, "Train a reward model on labelled pairs.")
    parser.add_argument("--data", type=Path, required=True, help="pairs or raw export, JSON Lines")
    parser.add_argument("--base-model", default=DEFAULT_REWARD, help="directory or model id")
    add_run_flags(parser, out_help="where the model is saved")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, float] | None:
    config, args = build_parser().parse(argv)
    examples = list(read_pairs_jsonl(args.data))
    base = reward_base_path(args.base_model)
    return run_and_report(
        args, lambda ctx: train_reward_model(examples, base, config, ctx, args.out)
    )


if __name__ == "__main__":
    main()
