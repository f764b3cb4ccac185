"""Jinja2 environment shared by the HTML routes; autoescaping is always on."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from app.config import REPO_ROOT
from app.security import new_csrf_token

templates = Jinja2Templates(directory=str(REPO_ROOT / "templates"))
templates.env.autoescape = True


def csrf_token(request: Request) -> str:
    """The browser session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    ctx = {"csrf_token": csrf_token(request), **(context or {})}
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
