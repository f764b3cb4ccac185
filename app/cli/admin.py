"""`rlhf users deactivate|activate|role`: account changes an admin makes from a shell.

The `users` command itself is created in app/cli/people.py; that module calls
`add_user_actions` with its sub-parsers so that all user actions live under one command.
"""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import func, select

from app.cli.errors import CommandError
from app.db import session_scope
from app.models import Role, User
from app.queries import users as user_queries


def add_user_actions(users_cmds: Any) -> None:
    deactivate = users_cmds.add_parser(
        "deactivate", help="stop a person signing in or using tokens"
    )
    deactivate.add_argument("name")
    deactivate.set_defaults(handler=run_users_deactivate)
    activate = users_cmds.add_parser("activate", help="let a deactivated person back in")
    activate.add_argument("name")
    activate.set_defaults(handler=run_users_activate)
    role = users_cmds.add_parser("role", help="change a person's role")
    role.add_argument("name")
    role.add_argument("role", choices=[r.value for r in Role])
    role.set_defaults(handler=run_users_role)


def _last_admin(session: Any, user: User) -> bool:
    if user.role != Role.admin.value or not user.is_active:
        return False
    admins = session.scalar(
        select(func.count()).select_from(User).where(User.role == "admin", User.is_active.is_(True))
    )
    return bool((admins or 0) <= 1)


def run_users_deactivate(args: argparse.Namespace) -> int:
    with session_scope() as session:
        user = user_queries.get_user_by_username(session, args.name)
        if user is None:
            raise CommandError(f"no user named {args.name!r}")
        if _last_admin(session, user):
            raise CommandError(f"{args.name!r} is the last active admin")
        user.is_active = False
    print(f"deactivated {args.name!r}")
    return 0


def run_users_activate(args: argparse.Namespace) -> int:
    with session_scope() as session:
        user = user_queries.get_user_by_username(session, args.name)
        if user is None:
            raise CommandError(f"no user named {args.name!r}")
        user.is_active = True
    print(f"activated {args.name!r}")
    return 0


def run_users_role(args: argparse.Namespace) -> int:
    with session_scope() as session:
        user = user_queries.get_user_by_username(session, args.name)
        if user is None:
            raise CommandError(f"no user named {args.name!r}")
        if args.role != Role.admin.value and _last_admin(session, user):
            raise CommandError(f"{args.name!r} is the last active admin")
        user.role = args.role
    print(f"{args.name!r} is now {args.role}")
    return 0
