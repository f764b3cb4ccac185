"""HTML forms parse into the API's pydantic models: one home per rule, field errors by name.

A form posts strings. Empty strings become "not given" for fields that are not text (so a
blank number field takes the model's default rather than failing to parse ""); errors come
back keyed by field name so each template shows its message next to the field, and the raw
strings go back into the form so nothing typed is lost.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

FieldErrors = dict[str, str]


def _accepts_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_accepts_text(a) for a in get_args(annotation))
    return False


def form_data(model: type[BaseModel], form: Mapping[str, Any]) -> dict[str, Any]:
    """The model's fields found in the form, blanks dropped where the field is not text."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in form:
            continue
        value = form[name]
        if isinstance(value, str) and value.strip() == "" and not _accepts_text(info.annotation):
            continue
        data[name] = value
    return data


def messages(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> FieldErrors:
    """One sentence per field, keyed by the field's name (dotted below ``prefix``);
    errors of the whole model are keyed ``""``."""
    found: FieldErrors = {}
    for err in exc.errors():
        loc = tuple(err["loc"])
        if prefix and loc[: len(prefix)] == prefix:
            loc = loc[len(prefix) :]
        key = ".".join(str(p) for p in loc)
        message = str(err["msg"])
        # pydantic's "Value error, ..." prefix says nothing to a person.
        message = message.removeprefix("Value error, ")
        found.setdefault(key, message[0].upper() + message[1:] if message else message)
    return found


def parse(model: type[M], form: Mapping[str, Any]) -> tuple[M | None, FieldErrors]:
    """The model built from the form, or None and the field errors."""
    try:
        return model.model_validate(form_data(model, form)), {}
    except ValidationError as exc:
        return None, messages(exc)


def parse_data(model: type[M], data: Mapping[str, Any]) -> tuple[M | None, FieldErrors]:
    """Like ``parse`` for data already cleaned with ``form_data`` (and amended)."""
    try:
        return model.model_validate(dict(data)), {}
    except ValidationError as exc:
        return None, messages(exc)


async def posted_form(request: Request) -> dict[str, str]:
    """The posted form's text fields. Declare it before the session in a route's parameters:
    the body is then read before a database transaction opens."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


PostedForm = Annotated[dict[str, str], Depends(posted_form)]
