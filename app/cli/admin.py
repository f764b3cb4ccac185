"""`rlhf users deactivate|activate|role`: account changes an admin makes from a shell.

The `users` command itself is created in app/cli/people.py; that module calls
`add_user_actions` with its sub-parsers so that all user actions live under one command.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.errors import CommandError
from app.db import session_scope
from app.models import Role
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


def _change(name: str, *, role: Role | None = None, is_active: bool | None = None) -> None:
    with session_scope() as session:
        user = user_queries.get_user_by_username(session, name)
        if user is None:
            raise CommandError(f"no user named {name!r}")
        try:
            user_queries.change_user(session, user, role=role, is_active=is_active)
        except user_queries.LastAdmin:
            raise CommandError(f"{name!r} is the last active admin") from None


def run_users_deactivate(args: argparse.Namespace) -> int:
    _change(args.name, is_active=False)
    print(f"deactivated {args.name!r}")
    return 0


def run_users_activate(args: argparse.Namespace) -> int:
    _change(args.name, is_active=True)
    print(f"activated {args.name!r}")
    return 0


def run_users_role(args: argparse.Namespace) -> int:
    _change(args.name, role=Role(args.role))
    print(f"{args.name!r} is now {args.role}")
    return 0
