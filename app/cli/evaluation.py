"""`rlhf leaderboard`: a project's leaderboard from a shell, as the API gives it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.cli.errors import CommandError
from app.db import session_scope
from app.leaderboard.project import project_leaderboard
from app.queries import projects as project_queries
from app.schemas.evaluation import Leaderboard


def register(commands: Any) -> None:
    board = commands.add_parser(
        "leaderboard", help="a project's policy versions rated from blind battles"
    )
    board.add_argument("project", help="project id or name")
    board.add_argument("--base", type=int, help="policy version id the win rates are against")
    board.add_argument(
        "--trusted-only",
        action="store_true",
        help="count only trusted labels: flagged and suspended annotators' and gold pairs left out",
    )
    board.add_argument("--json", action="store_true", help="print the API's JSON")
    board.set_defaults(handler=run_leaderboard)


def run_leaderboard(args: argparse.Namespace) -> int:
    with session_scope() as session:
        project = project_queries.find_project(session, args.project)
        if project is None:
            raise CommandError(f"no project {args.project!r} (give its id or name)")
        try:
            found = project_leaderboard(
                session, project, base_version_id=args.base, trusted_only=args.trusted_only
            )
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        board = Leaderboard.of(project.id, found)
    if args.json:
        print(board.model_dump_json(indent=2))
        return 0
    if not board.models:
        print("no battles yet")
        return 0
    print(f"{'model':32s} {'rating':>7s} {'95 % interval':>15s} {'W':>5s} {'L':>5s} {'T':>5s} "
          f"{'vs base':>8s}")  # fmt: skip
    for m in board.models:
        vs_base = "" if m.win_rate_vs_base is None else f"{m.win_rate_vs_base:8.3f}"
        print(
            f"{m.name[:32]:32s} {m.rating:7.1f} {m.ci_low:7.1f}-{m.ci_high:<7.1f} "
            f"{m.wins:5d} {m.losses:5d} {m.ties:5d} {vs_base}"
        )
    summary = {
        "battles": board.battles,
        "base": board.base and board.base.name,
        "trusted_only": board.trusted_only,
    }
    print(json.dumps(summary))
    return 0
