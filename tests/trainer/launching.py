"""Running a launch entry point as two processes under ``accelerate launch`` on CPU."""

from __future__ import annotations

import sys
from pathlib import Path

# No GPU here: DDP over gloo on CPU processes.
CPU_DDP_ENV = {"ACCELERATE_USE_CPU": "1", "CUDA_VISIBLE_DEVICES": ""}


def accelerate_two_processes(module: str, port: int, args: list[str]) -> list[str]:
    """The command line that runs ``python -m module args`` in two processes."""
    accelerate = Path(sys.executable).parent / "accelerate"
    return [
        str(accelerate), "launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--num_cpu_threads_per_process", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(port),
        "-m", module, *args,
    ]  # fmt: skip
