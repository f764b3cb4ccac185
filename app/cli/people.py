"""`rlhf users create` and `rlhf tokens create`."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from app.cli.admin import add_user_actions
from app.cli.errors import CommandError
from app.db import session_scope
from app.models import Role
from app.queries import users as user_queries


def register(commands: Any) -> None:
    users = commands.add_parser("users", help="manage people")
    users_cmds = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    create = users_cmds.add_parser("create", help="create a person")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(handler=run_users_create)
    add_user_actions(users_cmds)

    tokens = commands.add_parser("tokens", help="manage API tokens")
    tokens_cmds = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    mint = tokens_cmds.add_parser("create", help="print a new API token for a person, once")
    mint.add_argument("name", help="the person's username")
    mint.add_argument("--label", default="cli", help="a name for the token")
    mint.set_defaults(handler=run_tokens_create)


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password (empty for API-only): ")
    else:
        return None
    if password and len(password) < 8:
        raise CommandError("the password must have at least 8 characters")
    return password or None


def run_users_create(args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)
    with session_scope() as session:
        try:
            user = user_queries.create_user(session, args.name, Role(args.role), password)
        except user_queries.UsernameTaken as exc:
            raise CommandError(f"a user named {args.name!r} already exists") from exc
        print(f"created {user.role} {user.username!r} (id {user.id})")
    return 0


def run_tokens_create(args: argparse.Namespace) -> int:
    with session_scope() as session:
        user = user_queries.get_user_by_username(session, args.name)
        if user is None:
            raise CommandError(f"no user named {args.name!r}")
        if not user.is_active:
            raise CommandError(f"{args.name!r} is deactivated")
        _, plain = user_queries.create_token(session, user, args.label)
    # Only the hash is stored: this is the one time the token can be seen.
    print(plain)
    return 0
