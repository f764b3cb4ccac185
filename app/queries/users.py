"""People, their API tokens and login throttling."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import ApiToken, Role, User, utcnow
from app.security import hash_api_token, hash_password, new_api_token, verify_password

# Writing last_used_at on every request would turn each read into a write.
TOKEN_TOUCH_INTERVAL = timedelta(seconds=60)


class UsernameTaken(Exception):
    pass


class LastAdmin(Exception):
    """The change would leave no active admin, and nobody able to manage the installation."""


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def create_user(session: Session, username: str, role: Role, password: str | None) -> User:
    if get_user_by_username(session, username) is not None:
        raise UsernameTaken(username)
    user = User(
        username=username,
        role=role.value,
        password_hash=hash_password(password) if password else None,
        is_active=True,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    return user


def active_admins(session: Session) -> int:
    count = select(func.count()).where(User.role == Role.admin.value, User.is_active.is_(True))
    return session.scalar(count) or 0


def change_user(
    session: Session, user: User, *, role: Role | None = None, is_active: bool | None = None
) -> User:
    """Changes a person's role and/or whether they may sign in; `LastAdmin` if that would
    take away the last active admin."""
    demoted = role is not None and role != Role.admin
    losing_admin = (
        user.role == Role.admin.value and user.is_active and (demoted or is_active is False)
    )
    if losing_admin and active_admins(session) <= 1:
        raise LastAdmin(user.username)
    if role is not None:
        user.role = role.value
    if is_active is not None:
        # Tokens and sessions are checked against is_active on every request: this takes
        # effect at once, with nothing to revoke.
        user.is_active = is_active
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    session.flush()


def authenticate(
    session: Session, username: str, password: str, *, max_failures: int, lockout: timedelta
) -> User | None:
    """The user if the password is right and the account usable; counts failures, locks out."""
    user = get_user_by_username(session, username)
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        return None
    ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        return None
    if not ok:
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + lockout
            user.failed_logins = 0
        return None
    user.failed_logins = 0
    user.locked_until = None
    return user if user.is_active else None


def create_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """The stored token row and the plain token, which is never stored and shown only now."""
    plain = new_api_token()
    token = ApiToken(
        user_id=user.id, name=name, token_hash=hash_api_token(plain), prefix=plain[:12]
    )
    session.add(token)
    session.flush()
    return token, plain


def get_token(session: Session, user_id: int, token_id: int) -> ApiToken | None:
    """One of this person's tokens; None if there is no such token or it is another's."""
    token = session.get(ApiToken, token_id)
    return token if token is not None and token.user_id == user_id else None


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)))


def revoke_token(session: Session, token: ApiToken, when: datetime | None = None) -> None:
    if token.revoked_at is None:
        token.revoked_at = when or utcnow()
        session.flush()


def user_for_token(session: Session, plain: str) -> User | None:
    """The active owner of a live token, recording its use at most once a minute."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_api_token(plain))
    ).first()
    if row is None:
        return None
    token, user = row.tuple()
    if token.revoked_at is not None or not user.is_active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        token.last_used_at = now
    return user


def list_all_tokens(session: Session) -> list[ApiToken]:
    """Every token, newest first: the people page lists them under their owners."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))
