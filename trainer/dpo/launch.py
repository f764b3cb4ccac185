"""Command line entry for DPO, on any Accelerate setup; the worker runs it too.

    python -m trainer.dpo.launch --data pairs.jsonl --out DIR [--beta 0.1 --loss-type robust ...]
    accelerate launch --num_processes 2 -m trainer.dpo.launch ... (same flags)

``--data`` holds labelled preferences in one of the import formats (``--format pairs|hh|trl``,
read by the importer's own parser; unlabelled rows and ties are skipped), or the trainer's own
pairs file (``--format examples``, ``trainer.reward.data.write_pairs_jsonl``: each row keeps
its comparison as ``group`` and its margin; what the worker hands a launched job). Every
``DPOConfig`` field is a flag (``--batch-size`` is pairs per optimiser step over all
processes). The main process writes the LoRA adapter to DIR with its metrics in
``DIR/metrics.json``, which ``rlhf models register PROJECT policy DIR --parent VERSION``
makes a version.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from app.config import get_settings
from app.importing.parsers import ImportFormat, parse_line
from app.importing.records import LineError, SkipLine
from trainer.default_models import DEFAULT_POLICY, ensure_policy
from trainer.dpo.config import DPOConfig
from trainer.dpo.train import train_dpo
from trainer.launching import ConfigParser, add_run_flags, run_and_report
from trainer.reward.data import MARGIN_BY_STRENGTH, PreferenceExample, read_pairs_jsonl

# The trainer's own pairs file; the others are `rlhf import` formats.
EXAMPLES = "examples"
FORMATS = ("pairs", "hh", "trl", EXAMPLES)


class DataFileError(ValueError):
    """A line of --data that holds no preference pair; the message names the line."""


def read_preferences(path: Path, fmt: str) -> list[PreferenceExample]:
    """Labelled rows of ``path`` (``train_dpo`` leaves ties out). In an import format each row is its own
    comparison (group = line number); ``examples`` rows keep the group they were written with."""
    if fmt == EXAMPLES:
        try:
            return list(read_pairs_jsonl(path))
        except ValueError as exc:  # read_pairs_jsonl names the line
            raise DataFileError(str(exc)) from None
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


def build_parser() -> ConfigParser[DPOConfig]:
    parser = ConfigParser(DPOConfig, "DPO-tune a policy on preferences.")
    parser.add_argument("--data", type=Path, required=True, help="labelled preferences, JSON Lines")
    parser.add_argument(
        "--format",
        default="pairs",
        choices=FORMATS,
        help="format of --data: as for `rlhf import`, or examples (the trainer's pairs file)",
    )
    parser.add_argument(
        "--policy-model",
        default=DEFAULT_POLICY,
        help="policy to tune: a directory, hub id or the default's name",
    )
    add_run_flags(parser, out_help="where the adapter and metrics.json are written")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, float] | None:
    parser = build_parser()
    # A config that refuses its values (beta <= 0, ...) is a usage error, not a crash.
    config, args = parser.parse(argv)
    try:
        examples = read_preferences(args.data, args.format)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    policy = ensure_policy(args.policy_model, get_settings().model_dir)
    return run_and_report(args, lambda ctx: train_dpo(examples, policy, config, ctx, args.out))


if __name__ == "__main__":
    main()
