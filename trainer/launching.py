"""What the launch entry points (``trainer.reward.launch``, ``trainer.ppo.launch``) share.

They take the same settings as the job queue's parameters (one flag per field of the config
dataclass, ``--learning-rate`` ...), so a run outside the queue is configured alike; both
write to ``--out`` with resumable state beside it, and report from the main process.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from accelerate import PartialState

from trainer.context import NullContext


def _bool(text: str) -> bool:
    if text.lower() in {"1", "true", "yes", "on"}:
        return True
    if text.lower() in {"0", "false", "no", "off"}:
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_or_none(text: str) -> Any:
        return None if text.lower() == "none" else parse(text)

    return parse_or_none


def _parser_for(field: dataclasses.Field[Any]) -> Callable[[str], Any]:
    # Annotations are strings here (postponed evaluation): "float | None", "bool", ...
    annotation = str(field.type)
    if "bool" in annotation:
        return _bool
    parse: Callable[[str], Any] = str
    if "float" in annotation:
        parse = float
    elif "int" in annotation:
        parse = int
    return _optional(parse) if "None" in annotation else parse


def add_run_flags(parser: argparse.ArgumentParser, config_type: type[Any], out_help: str) -> None:
    """``--out``, ``--checkpoint-dir`` and one flag per field of ``config_type``."""
    parser.add_argument("--out", type=Path, required=True, help=out_help)
    parser.add_argument(
        "--checkpoint-dir", type=Path, help="resumable state (default OUT/checkpoint)"
    )
    add_config_flags(parser, config_type)


def run_context(args: argparse.Namespace) -> NullContext:
    return NullContext(args.checkpoint_dir or args.out / "checkpoint")


def report(args: argparse.Namespace, metrics: dict[str, float]) -> None:
    """The main process prints the final metrics as JSON and writes them to OUT/metrics.json
    (every process holds the same after training's gathers)."""
    state = PartialState()
    if state.is_main_process:
        summary = {**metrics, "processes": float(state.num_processes)}
        (args.out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps(summary))


def add_config_flags(parser: argparse.ArgumentParser, config_type: type[Any]) -> None:
    """One ``--field-name`` flag per field, defaulting to the field's default ("none" for None)."""
    for field in dataclasses.fields(config_type):
        flag = "--" + field.name.replace("_", "-")
        parser.add_argument(flag, type=_parser_for(field), default=field.default)


def config_from_args(args: argparse.Namespace, config_type: type[Any]) -> Any:
    return config_type(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config_type)})
