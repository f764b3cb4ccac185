"""The base of every job kind's parameter model: unknown keys are refused (a typo is a 422,
not a silently ignored setting)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
