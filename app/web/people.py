"""HTML page: people, their roles and their API tokens (admin).

Forms parse into the API's UserCreate, UserUpdate and TokenCreate. A new token is shown
once, on the page that answers the form that made it; only its hash is stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.deps import SessionDep, WebAdmin, check_csrf
from app.models import ApiToken, Role, User
from app.queries import users as user_queries
from app.schemas.users import TokenCreate, UserCreate, UserUpdate
from app.web import forms
from app.web.forms import PostedForm
from app.web.templating import render

router = APIRouter(include_in_schema=False)

SECTION = "/people"
NOTICES = {
    "created": "Person created.",
    "updated": "Saved.",
    "revoked": "Token revoked; it stopped working at once.",
}


def _page(
    request: Request,
    session: Session,
    user: User,
    *,
    form: dict[str, Any] | None = None,
    errors: forms.FieldErrors | None = None,
    row_errors: dict[int, str] | None = None,
    new_token: dict[str, Any] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    people = user_queries.list_users(session)
    tokens: dict[int, list[ApiToken]] = {}
    for token in user_queries.list_all_tokens(session):
        tokens.setdefault(token.user_id, []).append(token)
    return render(
        request,
        "people.html",
        {
            "user": user,
            "active_section": SECTION,
            "people": people,
            "tokens": tokens,
            "roles": [r.value for r in Role],
            "form": form or {"role": Role.annotator.value},
            "errors": errors or {},
            "row_errors": row_errors or {},
            "new_token": new_token,
            "notice": NOTICES.get(notice or ""),
        },
        status_code=status_code,
    )


def _person_or_404(session: Session, user_id: int) -> User:
    person = user_queries.get_user(session, user_id)
    if person is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}")
    return person


@router.get("/people")
def people_page(
    request: Request, session: SessionDep, user: WebAdmin, notice: str | None = None
) -> Response:
    return _page(request, session, user, notice=notice)


@router.post("/people")
def create_person(
    request: Request, form: PostedForm, session: SessionDep, user: WebAdmin
) -> Response:
    check_csrf(request, form.get("csrf_token"))
    data = forms.form_data(UserCreate, form)
    if not data.get("password"):
        data.pop("password", None)  # blank: an API-only account
    body, errors = forms.parse_data(UserCreate, data)
    if body is None:
        return _page(request, session, user, form=form, errors=errors, status_code=422)
    try:
        user_queries.create_user(session, body.username, body.role, body.password)
    except user_queries.UsernameTaken:
        errors = {"username": f"“{body.username}” is taken."}
        return _page(request, session, user, form=form, errors=errors, status_code=409)
    return RedirectResponse("/people?notice=created", status_code=303)


@router.post("/people/{user_id}")
def update_person(
    user_id: int, request: Request, form: PostedForm, session: SessionDep, user: WebAdmin
) -> Response:
    check_csrf(request, form.get("csrf_token"))
    person = _person_or_404(session, user_id)
    body, errors = forms.parse(UserUpdate, form)
    if body is None:
        message = "; ".join(errors.values())
        return _page(request, session, user, row_errors={user_id: message}, status_code=422)
    try:
        user_queries.change_user(session, person, role=body.role, is_active=body.is_active)
    except user_queries.LastAdmin:
        message = "This is the last active admin: make someone else an admin first."
        return _page(request, session, user, row_errors={user_id: message}, status_code=409)
    return RedirectResponse("/people?notice=updated", status_code=303)


@router.post("/people/{user_id}/tokens")
def mint_token(
    user_id: int, request: Request, form: PostedForm, session: SessionDep, user: WebAdmin
) -> Response:
    check_csrf(request, form.get("csrf_token"))
    person = _person_or_404(session, user_id)
    body, errors = forms.parse(TokenCreate, form)
    if body is None or not person.is_active:
        message = errors.get("name") or f"{person.username} is deactivated: reactivate first."
        return _page(request, session, user, row_errors={user_id: message}, status_code=422)
    token, plain = user_queries.create_token(session, person, body.name)
    # Not a redirect: the token is shown on this answer only, never put in a URL or stored.
    shown = {"username": person.username, "name": token.name, "token": plain}
    return _page(request, session, user, new_token=shown, status_code=201)


@router.post("/people/{user_id}/tokens/{token_id}/revoke")
def revoke_token(
    user_id: int,
    token_id: int,
    request: Request,
    session: SessionDep,
    _user: WebAdmin,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    token = user_queries.get_token(session, user_id, token_id)
    if token is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id} for user {user_id}")
    user_queries.revoke_token(session, token)
    return RedirectResponse("/people?notice=revoked", status_code=303)
