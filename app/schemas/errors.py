"""Error bodies that routes document beside their own (every route can answer these)."""

from __future__ import annotations

from pydantic import BaseModel


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class FieldErrors(BaseModel):
    """A 422 about the request itself: malformed parameters or body, or a value out of range."""

    detail: list[FieldError] | str
