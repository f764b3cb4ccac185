"""Command line entry for PPO outside the job queue, on any Accelerate setup.

    python -m trainer.ppo.launch --prompts prompts.jsonl --policy PATH --reward PATH --out DIR
    accelerate launch --num_processes 2 -m trainer.ppo.launch ... (same flags)

``prompts.jsonl`` holds one prompt per line: ``{"prompt": "..."}`` or ``{"prompt": [messages]}``.
Every ``PPOConfig`` field is a flag (``--total-steps``, ``--batch-size`` (per process),
``--kl-budget none``, ...; ``--help`` lists them). Each process samples its own share of the prompts; the adapter
is written once, by the main process, with its final metrics in ``DIR/metrics.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import orjson
from accelerate import Accelerator

from app.content import ContentError, normalise_messages
from trainer.launching import ConfigParser, add_run_flags, run_and_report
from trainer.ppo.config import PPOConfig
from trainer.ppo.train import train_ppo
from trainer.reward.scoring import RewardScorer


class PromptFileError(ValueError):
    """A line of the prompts file that holds no prompt; the message names the line."""


def read_prompts(path: Path) -> list[list[dict[str, str]]]:
    prompts = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
                if not isinstance(record, dict) or "prompt" not in record:
                    raise ContentError('expected an object with a "prompt" field')
                prompts.append(normalise_messages(record["prompt"]))
            except (orjson.JSONDecodeError, ContentError) as exc:
                raise PromptFileError(f"{path}, line {number}: {exc}") from None
    return prompts


def write_prompts(prompts: list[list[dict[str, str]]], path: Path) -> Path:
    """What ``read_prompts`` reads back (the worker's hand-off to a launched run)."""
    path.write_bytes(b"".join(orjson.dumps({"prompt": p}) + b"\n" for p in prompts))
    return path


def build_parser() -> ConfigParser[PPOConfig]:
    parser = ConfigParser(PPOConfig, "PPO-tune a policy against a reward model.")
    parser.add_argument("--prompts", type=Path, required=True, help="prompts JSON Lines file")
    parser.add_argument("--policy", required=True, help="policy model or adapter directory")
    parser.add_argument("--reward", required=True, help="reward model directory")
    add_run_flags(parser, out_help="where the adapter is saved")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, float] | None:
    parser = build_parser()
    config, args = parser.parse(argv)
    try:
        prompts = read_prompts(args.prompts)
    except PromptFileError as exc:
        parser.error(str(exc))
    # An Accelerator, not a bare PartialState, sets up the shared state: it reads the launch
    # settings (ACCELERATE_USE_CPU among them), and whichever comes first fixes them for all.
    scorer = RewardScorer(args.reward, device=Accelerator().device)
    return run_and_report(
        args, lambda ctx: train_ppo(prompts, args.policy, scorer.score, config, ctx, args.out)
    )


if __name__ == "__main__":
    main()
