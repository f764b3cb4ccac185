"""REST routes: people and their API tokens (admin), and who am I (anyone)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app.deps import AdminUser, ApiUser, SessionDep
from app.models import User
from app.queries import users as user_queries
from app.schemas import UserPublic
from app.schemas.users import TokenCreate, TokenCreated, TokenPublic, UserCreate, UserUpdate

router = APIRouter(tags=["users"])


@router.get("/me", response_model=UserPublic)
def read_me(user: ApiUser) -> UserPublic:
    """The caller."""
    return UserPublic.model_validate(user)


@router.get("/users", response_model=list[UserPublic])
def list_users(_admin: AdminUser, session: SessionDep) -> list[UserPublic]:
    """Everyone (admin)."""
    return [UserPublic.model_validate(u) for u in user_queries.list_users(session)]


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, _admin: AdminUser, session: SessionDep) -> UserPublic:
    """Creates a person (admin)."""
    try:
        user = user_queries.create_user(session, body.username, body.role, body.password)
    except user_queries.UsernameTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{body.username!r} is taken") from exc
    return UserPublic.model_validate(user)


def _user_or_404(session: SessionDep, user_id: int) -> User:
    user = user_queries.get_user(session, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}")
    return user


@router.patch("/users/{user_id}", response_model=UserPublic)
def update_user(
    user_id: int, body: UserUpdate, _admin: AdminUser, session: SessionDep
) -> UserPublic:
    """Changes a person's role or deactivates / reactivates them (admin)."""
    user = _user_or_404(session, user_id)
    try:
        user_queries.change_user(session, user, role=body.role, is_active=body.is_active)
    except user_queries.LastAdmin:
        raise HTTPException(status.HTTP_409_CONFLICT, "this is the last active admin") from None
    return UserPublic.model_validate(user)


@router.get("/users/{user_id}/tokens", response_model=list[TokenPublic])
def list_tokens(user_id: int, _admin: AdminUser, session: SessionDep) -> list[TokenPublic]:
    """A person's API tokens, revoked ones included; never the tokens themselves (admin)."""
    _user_or_404(session, user_id)
    return [TokenPublic.model_validate(t) for t in user_queries.list_tokens(session, user_id)]


@router.post(
    "/users/{user_id}/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED
)
def mint_token(
    user_id: int, body: TokenCreate, _admin: AdminUser, session: SessionDep
) -> TokenCreated:
    """A new API token for a person, shown this once (admin)."""
    user = _user_or_404(session, user_id)
    if not user.is_active:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{user.username!r} is deactivated")
    token, plain = user_queries.create_token(session, user, body.name)
    return TokenCreated(**TokenPublic.model_validate(token).model_dump(), token=plain)


@router.delete("/users/{user_id}/tokens/{token_id}", response_model=TokenPublic)
def revoke_token(
    user_id: int, token_id: int, _admin: AdminUser, session: SessionDep
) -> TokenPublic:
    """Revokes a token; it stops working at once (admin)."""
    token = user_queries.get_token(session, user_id, token_id)
    if token is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id} for user {user_id}")
    user_queries.revoke_token(session, token)
    return TokenPublic.model_validate(token)
