"""REST routes: people and their API tokens (admin), and who am I (anyone)."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import AdminUser, ApiUser, SessionDep
from app.queries import users as user_queries
from app.schemas import UserPublic

router = APIRouter(tags=["users"])


@router.get("/me", response_model=UserPublic)
def read_me(user: ApiUser) -> UserPublic:
    """The caller."""
    return UserPublic.model_validate(user)


@router.get("/users", response_model=list[UserPublic])
def list_users(_admin: AdminUser, session: SessionDep) -> list[UserPublic]:
    """Everyone (admin)."""
    return [UserPublic.model_validate(u) for u in user_queries.list_users(session)]
