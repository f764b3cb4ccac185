"""Training jobs in the worker's process, or through ``accelerate launch`` on more devices.

With ``RLHF_WORKER_PROCESSES`` = 1 and no ``RLHF_ACCELERATE_CONFIG`` a job trains here, as
always. Otherwise the handler's inputs go to files in the model store (a shared volume when
machines share the work) and the job's launch entry point (``python -m trainer.<kind>.launch``)
runs under ``accelerate launch``. The worker keeps everything that needs the database: it
forwards the run's reports and samples (``trainer/handoff.py``), renews the lease, asks the
run to stop when the job is cancelled or the worker stops, and registers the one version the
run's main process wrote. A job kind plugs in with one call of ``train_job``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from trainer.context import JobInterrupted
from trainer.handoff import LAUNCH, EventReader, ask_to_stop, write_worker_pid
from trainer.jobs.context import DatabaseJobContext
from trainer.jobs.spec import JobError, JobRun

log = logging.getLogger(__name__)

# How often the worker forwards the run's reports and looks for a reason to stop it.
POLL_S = 0.5
LOG_TAIL_CHARS = 3000
# Writes the run's input files into the directory given; returns the entry point's flags.
Inputs = Callable[[Path], list[str]]


class LaunchFailed(RuntimeError):
    """The launched run died: a crash, retried like any other (it resumes from its checkpoint)."""


@dataclass(frozen=True)
class Launch:
    """How the worker runs training, from its settings."""

    processes: int
    config: Path | None

    @property
    def here(self) -> bool:
        return self.processes == 1 and self.config is None

    @classmethod
    def of(cls, settings: Settings) -> Launch:
        """Refuses (``JobError``, the job fails at once) a config that is missing or unreadable."""
        if settings.accelerate_config is not None:
            check_accelerate_config(settings.accelerate_config)
        return cls(settings.worker_processes, settings.accelerate_config)


def check_accelerate_config(path: Path) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    if not path.is_file():
        raise JobError(f"accelerate config {path} does not exist")
    try:
        load_config_from_file(str(path))
    except Exception as exc:  # yaml, json and the config's own checks all raise their own
        raise JobError(f"accelerate config {path} does not parse: {exc}") from None


def train_job(
    run: JobRun, entry: str, out: Path, inputs: Inputs, here: Callable[[], dict[str, float]]
) -> dict[str, float]:
    """Trains with ``here()`` in this process, or runs ``python -m entry`` (its flags from
    ``inputs``, plus ``--out``, ``--checkpoint-dir`` and ``--handoff``) under ``accelerate
    launch``. Either way the metrics say how many processes trained (``num_processes``)."""
    launch = Launch.of(run.settings)
    if launch.here:
        return {**here(), "num_processes": 1.0}
    scratch = run.store.root / ".tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"launch-job-{run.job.id}-", dir=scratch) as d:
        handoff = Path(d)
        flags = [
            *inputs(handoff),
            "--out", str(out),
            "--checkpoint-dir", str(run.ctx.checkpoint_dir),
            "--handoff", str(handoff),
        ]  # fmt: skip
        write_worker_pid(handoff)
        return _run_launched(run.ctx, launch, entry, flags, handoff, out)


def accelerate_command(launch: Launch, entry: str, flags: list[str]) -> list[str]:
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if launch.config is not None:
        command += ["--config_file", str(launch.config)]
        if launch.processes > 1:
            command += ["--num_processes", str(launch.processes)]
    else:
        command += [
            "--num_processes", str(launch.processes), "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no",
            # Two workers on one machine must not meet at the same rendezvous port.
            "--main_process_port", str(_free_port()),
        ]  # fmt: skip
        if launch.processes > 1:
            command.append("--multi_gpu")
    return [*command, "-m", entry, *flags]


def launch_env(launch: Launch) -> dict[str, str]:
    import torch

    env = dict(os.environ)
    if not torch.cuda.is_available():
        # No GPU: the processes train on CPU and meet over gloo (a config's `use_cpu` alone
        # does not reach the processes of a multi-process launch).
        env["ACCELERATE_USE_CPU"] = "1"
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run_launched(
    ctx: DatabaseJobContext, launch: Launch, entry: str, flags: list[str], handoff: Path, out: Path
) -> dict[str, float]:
    command = accelerate_command(launch, entry, flags)
    log.info("job %d: %s", ctx.job_id, " ".join(command))
    # For the workers of the other machines of a multi-machine config (trainer/jobs/follower.py).
    (handoff / LAUNCH).write_text(json.dumps({"entry": entry, "flags": flags}))
    log_path = handoff / "launch.log"
    with log_path.open("wb") as output:
        # A session of its own: the whole group (launcher and training processes) can be ended.
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=launch_env(launch),
            start_new_session=True,
        )
    try:
        interrupted = _follow(process, ctx, handoff)
    finally:
        if process.poll() is None:  # the lease was lost, or the worker itself failed
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if interrupted is not None:
        raise JobInterrupted(interrupted)
    if process.returncode != 0:
        tail = log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        log.error("job %d: accelerate launch failed; its output ends:\n%s", ctx.job_id, tail)
        raise LaunchFailed(f"accelerate launch exited with status {process.returncode}: {tail}")
    metrics: dict[str, float] = json.loads((out / "metrics.json").read_text())
    return metrics


def _follow(process: subprocess.Popen[bytes], ctx: DatabaseJobContext, handoff: Path) -> str | None:
    """Forwards the run's events until it exits; returns its message if it stopped early."""
    events = EventReader(handoff)
    interrupted: str | None = None
    stop_asked = False
    while True:
        try:
            process.wait(timeout=POLL_S)
            exited = True
        except subprocess.TimeoutExpired:
            exited = False
        for event in events.new_events():
            if "report" in event:
                step, progress, metrics = event["report"]
                ctx.report(step, progress, metrics)  # LeaseLost ends the run (finally above)
            elif "samples" in event:
                step, samples = event["samples"]
                ctx.log_samples(step, samples)
            elif "interrupted" in event:
                interrupted = str(event["interrupted"])
        if exited:
            return interrupted
        if not stop_asked and ctx.should_stop():
            ask_to_stop(handoff)
            stop_asked = True
