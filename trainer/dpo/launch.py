"""Command line entry for DPO outside the job queue, on any Accelerate setup.

    python -m trainer.dpo.launch --data pairs.jsonl --out DIR [--beta 0.1 --loss-type robust ...]
    accelerate launch --num_processes 2 -m trainer.dpo.launch ... (same flags)

``--data`` holds labelled preferences in one of the import formats (``--format pairs|hh|trl``,
read by the importer's own parser; unlabelled rows and ties are skipped). Every ``DPOConfig``
field is a flag (``--batch-size`` is pairs per optimiser step over all processes). The main
process writes the LoRA adapter to DIR with its metrics in ``DIR/metrics.json``, which
``rlhf models register PROJECT policy DIR --parent VERSION`` makes a version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from accelerate import PartialState
from transformers import HfArgumentParser

from app.config import get_settings
from app.importing.parsers import ImportFormat, parse_line
from app.importing.records import LineError, SkipLine
from trainer.context import NullContext
from trainer.default_models import DEFAULT_POLICY, ensure_policy
from trainer.dpo.config import DPOConfig
from trainer.dpo.train import train_dpo
from trainer.reward.data import MARGIN_BY_STRENGTH, PreferenceExample


@dataclass
class RunArgs:
    data: str = field(metadata={"help": "labelled preferences, JSON Lines"})
    out: str = field(metadata={"help": "where the adapter and metrics.json are written"})
    format: str = field(
        default="pairs",
        metadata={
            "help": "format of --data, as for `rlhf import`",
            "choices": ["pairs", "hh", "trl"],
        },
    )
    policy_model: str = field(
        default=DEFAULT_POLICY,
        metadata={"help": "policy to tune: a directory, hub id or the default's name"},
    )
    checkpoint_dir: str | None = field(
        default=None, metadata={"help": "resumable state (default OUT/checkpoint)"}
    )


class DataFileError(ValueError):
    """A line of --data that holds no preference pair; the message names the line."""


def read_preferences(path: Path, fmt: str) -> list[PreferenceExample]:
    """Labelled rows of ``path`` as examples, each its own comparison (group = line number)."""
    examples = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                pair = parse_line(ImportFormat(fmt), line)
            except SkipLine:
                continue
            except LineError as exc:
                raise DataFileError(f"{path}, line {number}: {exc}") from None
            if pair.choice is None:
                continue
            examples.append(
                PreferenceExample(
                    prompt=pair.messages,
                    response_a=pair.first,
                    response_b=pair.second,
                    choice=pair.choice.value,
                    margin=MARGIN_BY_STRENGTH.get(pair.strength.value) if pair.strength else None,
                    group=number,
                )
            )
    return examples


def build_parser() -> HfArgumentParser:
    return HfArgumentParser((RunArgs, DPOConfig), description="DPO-tune a policy on preferences.")


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = build_parser()
    try:
        # A config that refuses its values (beta <= 0, ...) is a usage error, not a crash.
        run_args, config = parser.parse_args_into_dataclasses(args=argv)
        examples = read_preferences(Path(run_args.data), run_args.format)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    out = Path(run_args.out)
    policy = ensure_policy(run_args.policy_model, get_settings().model_dir)
    ctx = NullContext(Path(run_args.checkpoint_dir or out / "checkpoint"))
    metrics = train_dpo(examples, policy, config, ctx, out)
    if PartialState().is_main_process:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        print(json.dumps(metrics))
    return metrics


if __name__ == "__main__":
    main()
