"""`rlhf worker` and `rlhf reward-eval`."""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from app.cli.errors import CommandError
from app.config import get_settings

log = logging.getLogger("rlhf.worker")


def register(commands: Any) -> None:
    worker = commands.add_parser(
        "worker",
        help="run a trainer worker (SIGTERM: finish the current step, hand the job back)",
    )
    worker.add_argument("--once", action="store_true", help="run at most one job, then exit")
    worker.add_argument("--id", dest="worker_id", help="name of this worker in job leases")
    worker.set_defaults(handler=run_worker_command)

    evaluate = commands.add_parser(
        "reward-eval", help="score a labelled preference file with a reward model version"
    )
    evaluate.add_argument("model_version", help="reward model version: id or name")
    evaluate.add_argument(
        "files",
        metavar="file",
        type=Path,
        nargs="+",
        help="JSON Lines (gzip too): pairs with label, hh or trl; with several files the"
        " breakdown also gives each file's accuracy (e.g. helpful and harmless)",
    )
    evaluate.add_argument(
        "--format", choices=["pairs", "hh", "trl"], help="default: guessed from the first row"
    )
    evaluate.add_argument("--project", help="project id or name, when the name is ambiguous")
    evaluate.set_defaults(handler=run_reward_eval)


def run_worker_command(args: argparse.Namespace) -> int:
    from trainer.worker import run_worker

    settings = get_settings()
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("%s received: stopping after the current step", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    run_worker(settings, stop, once=args.once, worker_id=args.worker_id)
    return 0


def run_reward_eval(args: argparse.Namespace) -> int:
    from app.db import session_scope
    from app.models import ModelKind
    from app.queries import model_versions as version_queries
    from trainer.jobs.preference_files import read_preference_file
    from trainer.reward.data import PreferenceExample

    settings = get_settings()
    for file in args.files:
        if not file.is_file():
            raise CommandError(f"no such file: {file}")
    with session_scope() as session:
        version = version_queries.find_version(session, args.model_version, args.project)
        if version is None:
            raise CommandError(f"no model version {args.model_version!r}")
        try:
            version_queries.check_serves(version, ModelKind.reward, None)
        except version_queries.UnusableVersion as exc:
            raise CommandError(str(exc)) from None
        path = version_queries.resolve_path(settings.model_dir, version.path)
    strict: list[PreferenceExample] = []
    subsets: list[str] = []
    skipped: dict[str, int] = {}
    for file in args.files:
        try:
            found = read_preference_file(file, args.format)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except (OSError, EOFError) as exc:  # a broken gzip stream
            raise CommandError(f"cannot read {file}: {exc}") from exc
        for kind, n in found.skipped.items():
            skipped[kind] = skipped.get(kind, 0) + n
        kept = [e for e in found.examples if e.choice != "same"]
        strict += kept
        subsets += [file.name] * len(kept)
    if skipped:
        kinds = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in skipped.items())
        print(
            f"rlhf reward-eval: left out {sum(skipped.values())} records ({kinds})", file=sys.stderr
        )
    if not strict:
        raise CommandError("the file has no labelled pairs with a preference (ties are left out)")
    from trainer.reward.evaluate import evaluate_preferences  # torch: only once input is good

    metrics = evaluate_preferences(path, strict, subsets=subsets if len(args.files) > 1 else None)
    print(json.dumps({**eval_summary(metrics), "skipped": skipped}))
    return 0


def eval_summary(metrics: dict[str, float]) -> dict[str, float | int | None]:
    """What reward-eval prints: accuracy, ece and n first, then the length breakdown and the
    mean ensemble spread; an undefined figure (no pairs of a kind) is null."""
    first = {"accuracy": metrics["accuracy"], "ece": metrics["ece"], "n": int(metrics["n"])}
    rest = {
        k: v
        for k, v in metrics.items()
        if k not in first and k not in ("loss", "margin") and not k.startswith("n_")
    }
    counts = {k: int(v) for k, v in metrics.items() if k.startswith("n_")}
    merged: dict[str, float | int | None] = {**first, **rest, **counts}
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in merged.items()}
