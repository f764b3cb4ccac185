"""Login and logout pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.deps import SessionDep, SettingsDep, check_csrf, session_user
from app.models import Role
from app.queries import users as user_queries
from app.security import new_csrf_token
from app.web.templating import render

router = APIRouter(include_in_schema=False)

HOME_BY_ROLE = {
    Role.annotator.value: "/rate",
    Role.admin.value: "/projects",
    Role.trainer.value: "/jobs",
}


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: an open redirect would let a phishing link borrow our login page.
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@router.get("/")
def home(request: Request, session: SessionDep) -> Response:
    user = session_user(request, session)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME_BY_ROLE.get(user.role, "/rate"), status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _safe_next(next) or "", "error": None})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    user = user_queries.authenticate(
        session,
        username.strip(),
        password,
        max_failures=settings.login_max_failures,
        lockout=timedelta(seconds=settings.login_lockout_s),
    )
    if user is None:
        # One message for every cause, so the form does not reveal which usernames exist.
        return render(
            request,
            "login.html",
            {
                "next": _safe_next(next) or "",
                "error": "Wrong username or password, or the account is locked or deactivated.",
                "username": username,
            },
            status_code=401,
        )
    # A fresh session on login: a session fixed before login must not carry over.
    request.session.clear()
    request.session["uid"] = user.id
    request.session["csrf"] = new_csrf_token()
    target = _safe_next(next) or HOME_BY_ROLE.get(user.role, "/rate")
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
