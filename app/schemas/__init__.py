"""Pydantic bodies shared across areas; each area has a module here (<Entity>Create/Update/Public)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class HealthStatus(BaseModel):
    status: Literal["ok"]


class ErrorDetail(BaseModel):
    detail: str


class UserPublic(BaseModel):
    model_config = {"from_attributes": True}

    id: int
    username: str
    role: str
    is_active: bool
