"""What training code may ask of the job that runs it, without knowing about the database."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class JobInterrupted(Exception):
    """Raised by training code after it saved a checkpoint because the job must stop now."""


class JobContext(Protocol):
    # Where a checkpoint is kept so that a re-claimed job resumes; survives worker crashes.
    checkpoint_dir: Path

    def report(self, step: int, progress: float, metrics: dict[str, float]) -> None:
        """Record one step's metrics and overall progress in 0..1."""

    def should_stop(self) -> bool:
        """True once the job was cancelled or the worker was asked to stop (SIGTERM)."""

    def log_samples(self, step: int, samples: list[dict[str, str | float]]) -> None:
        """Keep a few sample generations (prompt, response, score) for the job page."""


class NullContext:
    """For scripts, benchmarks and tests: reports go to a list, never stops."""

    def __init__(self, checkpoint_dir: Path) -> None:
        self.checkpoint_dir = checkpoint_dir
        self.reports: list[tuple[int, float, dict[str, float]]] = []
        self.samples: list[tuple[int, list[dict[str, str | float]]]] = []
        self.stop_after_reports: int | None = None

    def report(self, step: int, progress: float, metrics: dict[str, float]) -> None:
        self.reports.append((step, progress, dict(metrics)))

    def should_stop(self) -> bool:
        return self.stop_after_reports is not None and len(self.reports) >= self.stop_after_reports

    def log_samples(self, step: int, samples: list[dict[str, str | float]]) -> None:
        self.samples.append((step, samples))
