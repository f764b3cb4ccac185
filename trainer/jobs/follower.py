"""The workers of the other machines of a multi-machine Accelerate config (machine_rank > 0).

A run spans machines when every machine runs ``accelerate launch`` with the same entry point
and flags, each with its own ``machine_rank``. The worker that claimed the job (the one whose
config says ``machine_rank: 0``) writes what it launched to ``launch.json`` in the job's
hand-off directory, in the model store that all machines share. A worker whose config gives
another rank claims no jobs: it runs each new launch it finds there, with its own config. Its
processes are never the main process, so they report and save nothing; they stop when the
others do (the stop file; training also agrees on every stop across processes).
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import threading
from pathlib import Path

from app.config import Settings
from trainer.handoff import LAUNCH
from trainer.jobs.launcher import Launch, accelerate_command, launch_env

log = logging.getLogger("rlhf.worker")


def machine_rank(settings: Settings) -> int:
    """This machine's rank in the Accelerate config; 0 without one, or with one that does not
    load (the worker then claims jobs, and fails each saying what is wrong with the file)."""
    if settings.accelerate_config is None:
        return 0
    from accelerate.commands.config.config_args import load_config_from_file

    try:
        config = load_config_from_file(str(settings.accelerate_config))
    except Exception:
        return 0
    return int(getattr(config, "machine_rank", 0) or 0)


def follow_launches(settings: Settings, stop_event: threading.Event) -> int:
    """Joins every launch the main machine's worker starts, until stopped; returns how many."""
    launch = Launch.of(settings)
    scratch = settings.model_dir / ".tmp"
    log.info("following launches in %s as machine %d", scratch, machine_rank(settings))
    joined: set[Path] = set()
    while not stop_event.is_set():
        for record in sorted(scratch.glob(f"launch-job-*/{LAUNCH}")):
            if record.parent in joined:
                continue
            joined.add(record.parent)
            join_launch(launch, record, stop_event)
        stop_event.wait(settings.worker_poll_s)
    return len(joined)


def join_launch(launch: Launch, record: Path, stop_event: threading.Event) -> None:
    try:
        started = json.loads(record.read_text())
    except (OSError, ValueError):  # finished and removed meanwhile, or still being written
        return
    command = accelerate_command(launch, started["entry"], started["flags"])
    log.info("joining %s: %s", record.parent.name, " ".join(command))
    with (record.parent / f"launch-{socket.gethostname()}.log").open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=launch_env(launch)
        )
    while process.poll() is None:
        # Leaving now would break the run on every machine: a stopping worker waits for it.
        if stop_event.wait(1.0):
            log.info("stopping once %s ends", record.parent.name)
            process.wait()
    log.info("%s ended with status %d", record.parent.name, process.returncode)
