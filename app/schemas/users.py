"""People and API token bodies (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from app.models import Role

Username = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]


class UserCreate(BaseModel):
    model_config = {"extra": "forbid"}

    username: Username
    role: Role
    # None: an API-only account that cannot sign in to the web pages.
    password: Annotated[str, Field(min_length=8, max_length=1000)] | None = None


class UserUpdate(BaseModel):
    model_config = {"extra": "forbid"}

    role: Role | None = None
    is_active: bool | None = None


class TokenCreate(BaseModel):
    model_config = {"extra": "forbid"}

    name: Annotated[str, Field(min_length=1, max_length=100)] = "api"


class TokenPublic(BaseModel):
    model_config = {"from_attributes": True}

    id: int
    name: str
    # The first characters of the token, to tell tokens apart; never enough to use one.
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    """The one response that carries the token itself; only its hash is stored."""

    token: str
