"""Files through which the worker and a training run it launched in other processes talk.

The worker owns the database and the job's lease; the launched processes (``accelerate
launch``) only train. They share a directory:

- ``events.jsonl``: appended by the run's main process, one JSON object a line:
  ``{"report": [step, progress, metrics]}``, ``{"samples": [step, samples]}``, and at most one
  ``{"interrupted": message}`` once the run saved a checkpoint and stopped early;
- ``stop``: created by the worker when the job must stop (cancelled, worker stopping, lease
  lost); every process sees it at its next step;
- ``worker.pid``: the worker's host name and process id; a run on that host whose worker died
  stops as if asked (processes on other machines cannot see that process, and do not look);
- ``launch.json``: what the worker launched (entry point and flags), for the workers of the
  other machines of a multi-machine config (``trainer/jobs/follower.py``).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EVENTS = "events.jsonl"
STOP = "stop"
WORKER_PID = "worker.pid"
LAUNCH = "launch.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process under that id: still alive
        return True
    return True


class HandoffContext:
    """The ``JobContext`` of a launched run. Only the main process writes events; every process
    reads the stop request, so all stop at the same step (training also agrees on it)."""

    def __init__(self, directory: Path, checkpoint_dir: Path, writes: bool) -> None:
        self.directory = directory
        self.checkpoint_dir = checkpoint_dir
        self.writes = writes
        self.worker_pid: int | None = None
        pid_file = directory / WORKER_PID
        if pid_file.is_file():
            host, _, pid = pid_file.read_text().strip().rpartition(" ")
            if host == socket.gethostname():
                self.worker_pid = int(pid)

    def _append(self, event: dict[str, Any]) -> None:
        if not self.writes:
            return
        # One write of one whole line: the reader never sees half an event it would keep.
        with (self.directory / EVENTS).open("a", encoding="utf-8") as events:
            events.write(json.dumps(event) + "\n")

    def report(self, step: int, progress: float, metrics: dict[str, float]) -> None:
        self._append({"report": [step, progress, metrics]})

    def log_samples(self, step: int, samples: Sequence[dict[str, str | float]]) -> None:
        self._append({"samples": [step, list(samples)]})

    def interrupted(self, message: str) -> None:
        self._append({"interrupted": message})

    def should_stop(self) -> bool:
        if (self.directory / STOP).exists():
            return True
        return self.worker_pid is not None and not _alive(self.worker_pid)


class EventReader:
    """The worker's side of ``events.jsonl``: each call returns the whole lines added since."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / EVENTS
        self.offset = 0

    def new_events(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open("rb") as events:
            events.seek(self.offset)
            data = events.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
        self.offset += len(complete)
        return [json.loads(line) for line in complete.splitlines() if line.strip()]


def ask_to_stop(directory: Path) -> None:
    (directory / STOP).touch()


def write_worker_pid(directory: Path) -> None:
    (directory / WORKER_PID).write_text(f"{socket.gethostname()} {os.getpid()}")
