"""What the launch entry points (``trainer.reward.launch``, ``trainer.ppo.launch``,
``trainer.dpo.launch``) share.

They take the same settings as the job queue's parameters: one flag per field of the config
dataclass (``--learning-rate`` or ``--learning_rate``), typed by ``transformers``'
``HfArgumentParser`` from the field's resolved annotation, with the field's help text. Both
write to ``--out`` with resumable state beside it, and report from the main process. When the
worker runs them (``--handoff DIR``), reports and the request to stop travel through files in
``DIR`` (``trainer/handoff.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar, Union, get_args, get_origin, get_type_hints

from accelerate import Accelerator, PartialState
from transformers import HfArgumentParser

from trainer.context import JobContext, JobInterrupted, NullContext
from trainer.handoff import HandoffContext

Config = TypeVar("Config")


def _nullable(annotation: Any) -> bool:
    origin = get_origin(annotation)
    return (origin is Union or origin is types.UnionType) and type(None) in get_args(annotation)


def _or_none(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_or_none(text: str) -> Any:
        return None if text.lower() == "none" else parse(text)

    # argparse names the type in its error messages ("invalid float value").
    parse_or_none.__name__ = getattr(parse, "__name__", "value")
    return parse_or_none


class ConfigParser(HfArgumentParser, Generic[Config]):  # type: ignore[misc]  # untyped base
    """``HfArgumentParser`` for one config dataclass, plus the entry point's own flags.

    A field that may be None (``kl_budget: float | None``) also takes ``none``; an unknown
    flag is an error (exit status 2), as with plain argparse.
    """

    def __init__(self, config_type: type[Config], description: str) -> None:
        # Read by add_argument, which HfArgumentParser's constructor calls once per field.
        hints = get_type_hints(config_type)
        self._nullable_flags = {
            "--" + name for name, annotation in hints.items() if _nullable(annotation)
        }
        self.config_type = config_type
        super().__init__(config_type, description=description)

    def add_argument(self, *names: Any, **kwargs: Any) -> argparse.Action:
        if "type" in kwargs and self._nullable_flags.intersection(names):
            kwargs["type"] = _or_none(kwargs["type"])
        action: argparse.Action = super().add_argument(*names, **kwargs)
        return action

    def parse(self, argv: Sequence[str] | None = None) -> tuple[Config, argparse.Namespace]:
        """The config (its own checks refused as a usage error) and the other flags."""
        args = self.parse_args(argv)
        names = [f.name for f in dataclasses.fields(self.config_type)]  # type: ignore[arg-type]
        try:
            config = self.config_type(**{name: getattr(args, name) for name in names})
        except ValueError as exc:
            self.error(str(exc))
        rest = argparse.Namespace(**{k: v for k, v in vars(args).items() if k not in set(names)})
        return config, rest


def add_run_flags(parser: argparse.ArgumentParser, out_help: str) -> None:
    """``--out``, ``--checkpoint-dir`` and ``--handoff``."""
    parser.add_argument("--out", type=Path, required=True, help=out_help)
    parser.add_argument(
        "--checkpoint-dir", type=Path, help="resumable state (default OUT/checkpoint)"
    )
    parser.add_argument(
        "--handoff",
        type=Path,
        help="set by the worker: a directory for progress reports and the request to stop",
    )


def config_flags(config: Any) -> list[str]:
    """The command line that ``ConfigParser`` reads back into ``config`` (the worker's side)."""
    flags: list[str] = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        flags += ["--" + field.name.replace("_", "-"), "none" if value is None else str(value)]
    return flags


def run_context(args: argparse.Namespace) -> JobContext:
    checkpoint_dir = args.checkpoint_dir or args.out / "checkpoint"
    if args.handoff is not None:
        # An Accelerator, not a bare PartialState, sets up the shared state: it reads the
        # launch settings (ACCELERATE_USE_CPU among them), and whichever comes first fixes them.
        main = Accelerator().is_main_process
        return HandoffContext(args.handoff, checkpoint_dir, main)
    return NullContext(checkpoint_dir)


def run_and_report(
    args: argparse.Namespace, train: Callable[[JobContext], dict[str, float]]
) -> dict[str, float] | None:
    """Runs ``train`` and reports its metrics; None when the worker asked the run to stop (it
    saved a checkpoint and told the worker so; every process then exits normally)."""
    ctx = run_context(args)
    try:
        metrics = train(ctx)
    except JobInterrupted as exc:
        if not isinstance(ctx, HandoffContext):
            raise
        ctx.interrupted(str(exc))
        return None
    return report(args, metrics)


def report(args: argparse.Namespace, metrics: dict[str, float]) -> dict[str, float]:
    """The metrics with ``num_processes``; the main process prints them as JSON and writes them
    to OUT/metrics.json (every process holds the same after training's gathers)."""
    state = PartialState()
    summary = {**metrics, "num_processes": float(state.num_processes)}
    if state.is_main_process:
        (args.out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps(summary))
    return summary
