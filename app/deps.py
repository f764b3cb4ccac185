"""Request dependencies: the database session, the current user and role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import Role, User
from app.queries import users as user_queries
from app.rating import RATER_ROLES, bearer_token
from app.security import tokens_match

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent."""
    read_only = request.method in SAFE_METHODS
    factory = request.app.state.read_sessionmaker if read_only else request.app.state.sessionmaker
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": the commit runs when the route returns, before the response is sent. The
# default ("request") commits after the body has gone out, so a crash in between lost
# labels the client had already been told were saved (tests/reliability/test_server_crash.py).
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


@contextmanager
def writable(request: Request, session: Session) -> Iterator[Session]:
    """The request's session, or on SQLite for a GET a separate BEGIN IMMEDIATE one.

    On SQLite a GET's deferred read transaction cannot safely turn into a write (another
    writer in between makes the upgrade fail at once), so such a request gets its own
    write transaction, committed here; everywhere else the request's session can write.
    """
    bind = session.get_bind()
    if not (isinstance(bind, Engine) and bind.get_execution_options().get("sqlite_read_only")):
        yield session
        return
    with request.app.state.sessionmaker() as writer:
        try:
            yield writer
            writer.commit()
        except BaseException:
            writer.rollback()
            raise


def get_write_db(request: Request, session: SessionDep) -> Iterator[Session]:
    """A session that may write even on GET (a page that leases work as it is shown)."""
    with writable(request, session) as writer:
        yield writer


WriteSessionDep = Annotated[Session, Depends(get_write_db, scope="function")]


class LoginRequired(Exception):
    """An HTML page needs a signed-in user; the handler redirects to the login page."""


def session_user(request: Request, session: Session) -> User | None:
    """The signed-in user of the browser session, if the account is still active."""
    user_id = request.session.get("uid")
    if not isinstance(user_id, int):
        return None
    user = user_queries.get_user(session, user_id)
    if user is None or not user.is_active:
        request.session.clear()
        return None
    return user


def check_csrf(request: Request, given: str | None) -> None:
    if not tokens_match(request.session.get("csrf"), given):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF token missing or invalid")


def get_api_user(request: Request, session: SessionDep) -> User:
    """API caller: a Bearer token, or the browser session (then unsafe methods need CSRF)."""
    token = bearer_token(request.headers.get("authorization", ""))
    if token is not None:
        user = user_queries.user_for_token(session, token)
        if user is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "invalid, revoked or deactivated token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return user
    user = session_user(request, session)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "authentication required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if request.method not in SAFE_METHODS:
        check_csrf(request, request.headers.get("x-csrf-token"))
    return user


def get_web_user(request: Request, session: SessionDep) -> User:
    user = session_user(request, session)
    if user is None:
        raise LoginRequired()
    return user


def require_roles(*roles: Role, web: bool = False) -> Callable[..., User]:
    allowed = {r.value for r in roles}
    base = get_web_user if web else get_api_user

    # A default rather than Annotated: the string annotation could not see the local `base`.
    def dependency(user: User = Depends(base)) -> User:
        if user.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the role {' or '.join(sorted(allowed))}; you are {user.role}",
            )
        return user

    return dependency


ApiUser = Annotated[User, Depends(get_api_user)]
AdminUser = Annotated[User, Depends(require_roles(Role.admin))]
TrainerUser = Annotated[User, Depends(require_roles(Role.trainer, Role.admin))]
WebRater = Annotated[User, Depends(require_roles(*map(Role, RATER_ROLES), web=True))]
WebTrainer = Annotated[User, Depends(require_roles(Role.trainer, Role.admin, web=True))]
WebAdmin = Annotated[User, Depends(require_roles(Role.admin, web=True))]
