"""`rlhf models register` and `rlhf models list`: model versions from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.cli.errors import CommandError
from app.config import get_settings
from app.db import session_scope
from app.models import ModelKind, ModelVersion, Project
from app.queries import model_versions as version_queries
from app.queries import projects as project_queries


def register(commands: Any) -> None:
    models = commands.add_parser("models", help="model versions")
    actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "register",
        help="make a model trained outside the job queue (trainer.*.launch --out DIR) a version",
        description="Copies DIR into the model store, loads it as a job would, and registers"
        " it as a version of the project, made current unless --keep-current.",
    )
    add.add_argument("project", help="project id or name")
    add.add_argument("kind", choices=[k.value for k in ModelKind])
    add.add_argument("directory", type=Path, help="what the launch wrote to --out")
    add.add_argument(
        "--parent",
        help="the version (id or name) training started from; a LoRA adapter is pointed at its"
        " weights, whatever base path the training machine wrote into it",
    )
    add.add_argument("--name", help="version name (default: <kind>-v<n>)")
    add.add_argument(
        "--keep-current", action="store_true", help="do not make it the project's current one"
    )
    add.add_argument(
        "--no-check", action="store_true", help="skip loading the copy before registering it"
    )
    add.set_defaults(handler=run_models_register)
    listing = actions.add_parser("list", help="a project's model versions, newest first")
    listing.add_argument("project", help="project id or name")
    listing.set_defaults(handler=run_models_list)


def _project(session: Session, ref: str) -> Project:
    project = project_queries.find_project(session, ref)
    if project is None:
        raise CommandError(f"no project {ref!r} (give its id or name)")
    return project


def run_models_register(args: argparse.Namespace) -> int:
    # torch and transformers load only for this command, and only once the input is good.
    from trainer.registering import Registration, RegistrationError, discard, register_directory

    settings = get_settings()
    published: Path | None = None
    try:
        with session_scope() as session:
            project = _project(session, args.project)
            parent: ModelVersion | None = None
            if args.parent:
                parent = version_queries.find_version(session, args.parent, str(project.id))
                if parent is None:
                    raise CommandError(f"no model version {args.parent!r}")
            spec = Registration(
                project=project,
                kind=ModelKind(args.kind),
                source=args.directory,
                parent=parent,
                name=args.name,
                make_current=not args.keep_current,
                check=not args.no_check,
            )
            version = register_directory(session, settings, spec)
            published = Path(version_queries.resolve_path(settings.model_dir, version.path))
            summary = (
                f"registered {version.kind} version {version.id} {version.name!r} of project"
                f" {project.name!r}{' (now current)' if spec.make_current else ''}: {published}"
            )
    except RegistrationError as exc:
        raise CommandError(str(exc)) from None
    except BaseException:
        # The version row was not committed: its copy in the store belongs to nothing.
        if published is not None:
            discard(published)
        raise
    print(summary)
    return 0


def run_models_list(args: argparse.Namespace) -> int:
    with session_scope() as session:
        project = _project(session, args.project)
        current = {project.policy_version_id, project.reward_version_id}
        for version in version_queries.list_versions(session, project_id=project.id):
            mark = "*" if version.id in current else " "
            origin = "base"
            if version.job_id is not None:
                origin = f"job {version.job_id}"
            elif "registered_from" in version.params:
                origin = "registered"
            print(
                f"{mark} {version.id:>5}  {version.kind:<6}  {version.name:<24}  {origin:<10}"
                f"  {version.created_at:%Y-%m-%d %H:%M}  {version.path}"
            )
    return 0
