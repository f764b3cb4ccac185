"""CLI: training commands."""

from __future__ import annotations

from typing import Any


def register(commands: Any) -> None:
    """Adds this module's sub-commands."""
