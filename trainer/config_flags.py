"""Command-line flags for every field of a training config dataclass (``--learning-rate`` ...).

The launch entry points (``trainer.reward.launch``, ``trainer.ppo.launch``) take the same
settings as the job queue's parameters, so a run outside the queue is configured alike.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any


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


def add_config_flags(parser: argparse.ArgumentParser, config_type: type[Any]) -> None:
    """One ``--field-name`` flag per field, defaulting to the field's default ("none" for None)."""
    for field in dataclasses.fields(config_type):
        flag = "--" + field.name.replace("_", "-")
        parser.add_argument(flag, type=_parser_for(field), default=field.default)


def config_from_args(args: argparse.Namespace, config_type: type[Any]) -> Any:
    return config_type(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config_type)})
