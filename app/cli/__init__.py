"""The `rlhf` command: one sub-command module per area, each with a ``register`` function."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from app.cli import data, demo, evaluation, model_versions, people, quality, server, training
from app.cli.errors import CommandError
from app.config import get_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlhf", description="RLHF Studio")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (server, people, data, training, model_versions, demo, evaluation, quality):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=get_settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        result: int = args.handler(args)
    except CommandError as exc:
        print(f"rlhf {args.command}: {exc}", file=sys.stderr)
        return 2
    return result
