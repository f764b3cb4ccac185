"""`rlhf worker` and `rlhf reward-eval`."""

from __future__ import annotations

import argparse
import json
import logging
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
        "file", type=Path, help="JSON Lines (gzip too): pairs with label, hh or trl"
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

    settings = get_settings()
    if not args.file.is_file():
        raise CommandError(f"no such file: {args.file}")
    with session_scope() as session:
        version = version_queries.find_version(session, args.model_version, args.project)
        if version is None:
            raise CommandError(f"no model version {args.model_version!r}")
        try:
            version_queries.check_serves(version, ModelKind.reward, None)
        except version_queries.UnusableVersion as exc:
            raise CommandError(str(exc)) from None
        path = version_queries.resolve_path(settings.model_dir, version.path)
    try:
        found = read_preference_file(args.file, args.format)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    except (OSError, EOFError) as exc:  # a broken gzip stream
        raise CommandError(f"cannot read {args.file}: {exc}") from exc
    if found.skipped:
        kinds = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in found.skipped.items())
        print(
            f"rlhf reward-eval: left out {found.skipped_total} records ({kinds})", file=sys.stderr
        )
    strict = [e for e in found.examples if e.choice != "same"]
    if not strict:
        raise CommandError("the file has no labelled pairs with a preference (ties are left out)")
    from trainer.reward.evaluate import evaluate_preferences  # torch: only once input is good

    metrics = evaluate_preferences(path, strict)
    print(
        json.dumps(
            {"accuracy": metrics["accuracy"], "n": int(metrics["n"]), "skipped": found.skipped}
        )
    )
    return 0
