"""`rlhf import`, `rlhf export` and `rlhf projects`: the import and export endpoints, from a shell."""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from contextlib import ExitStack
from typing import IO, Any

from app.cli.errors import CommandError
from app.db import get_engine, session_scope
from app.exporting.options import (
    ExportFilters,
    ExportOptions,
    ExportSchema,
    FileFormat,
    Flag,
    TrlForm,
)
from app.exporting.stream import prepare_export
from app.importing.lines import ReadsLines
from app.importing.parsers import ImportFormat
from app.importing.pipeline import ImportRejected, import_preferences
from app.models import Project
from app.queries import projects as project_queries
from app.queries.trusted_labels import Aggregation, Trust


def register(commands: Any) -> None:
    """Adds this module's sub-commands."""
    imp = commands.add_parser("import", help="import JSON Lines into a project, all or nothing")
    imp.add_argument("project", help="project id or name")
    imp.add_argument("file", help="JSON Lines file (.gz is decompressed; - for standard input)")
    imp.add_argument("--format", choices=[f.value for f in ImportFormat], default="pairs")
    imp.add_argument(
        "--queue", action="store_true", help="also send labelled imports to annotators"
    )
    imp.set_defaults(handler=run_import)

    exp = commands.add_parser("export", help="export a project's labels")
    exp.add_argument("project", help="project id or name")
    exp.add_argument("--format", choices=[f.value for f in FileFormat], default="jsonl")
    exp.add_argument("--schema", choices=[s.value for s in ExportSchema], default="raw")
    exp.add_argument("--form", choices=[f.value for f in TrlForm], default="conversational")
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")
    exp.add_argument("--annotator", action="append", default=[], help="username; repeatable")
    exp.add_argument("--source", action="append", default=[], help="label source; repeatable")
    exp.add_argument("--flag", action="append", default=[], choices=[f.value for f in Flag])
    exp.add_argument("--not-flag", action="append", default=[], choices=[f.value for f in Flag])
    exp.add_argument("--min-agreement", type=float, default=None)
    exp.add_argument(
        "--include-evaluation",
        action="store_true",
        help="trl schema: also export the labels of blind evaluation pairs",
    )
    exp.add_argument(
        "--include-flagged",
        action="store_true",
        help="trl: keep labels of flagged and suspended annotators",
    )
    exp.add_argument(
        "--aggregation",
        choices=[a.value for a in Aggregation],
        default="majority",
        help="trl: majority vote or the latent-truth model's weighted vote",
    )
    exp.set_defaults(handler=run_export)

    projects = commands.add_parser("projects", help="manage projects")
    actions = projects.add_subparsers(dest="projects_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a project")
    create.add_argument("name")
    create.add_argument("--labels-per-comparison", type=int, default=1)
    create.add_argument("--guidelines-file", help="Markdown file with the annotation guidelines")
    create.set_defaults(handler=run_projects_create)
    listing = actions.add_parser("list", help="list projects")
    listing.set_defaults(handler=run_projects_list)


def _project_id(ref: str) -> int:
    with session_scope() as session:
        project = project_queries.find_project(session, ref)
        if project is None:
            raise CommandError(f"no project {ref!r} (give its id or name)")
        return project.id


def _open_input(path: str, stack: ExitStack) -> ReadsLines:
    if path == "-":
        return sys.stdin.buffer
    try:
        raw = stack.enter_context(open(path, "rb"))  # noqa: SIM115 - closed by the stack
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
    if path.endswith(".gz"):
        gz: ReadsLines = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        return gz
    return raw


def run_import(args: argparse.Namespace) -> int:
    project_id = _project_id(args.project)
    with ExitStack() as stack:
        stream = _open_input(args.file, stack)
        try:
            with session_scope() as session:
                summary = import_preferences(
                    session, project_id, stream, ImportFormat(args.format), queue=args.queue
                )
        except ImportRejected as exc:
            for problem in exc.problems:
                print(f"{args.file}:{problem.line}: {problem.message}", file=sys.stderr)
            print(f"rlhf import: {exc.total} bad lines; nothing was imported", file=sys.stderr)
            return 2
        except (gzip.BadGzipFile, EOFError) as exc:
            raise CommandError(f"{args.file} is not valid gzip: {exc}") from exc
    for skipped in summary.skipped:
        print(
            f"{args.file}:{skipped.line}: skipped ({skipped.kind}): {skipped.message}",
            file=sys.stderr,
        )
    print(
        json.dumps(
            {
                "imported": summary.imported,
                "duplicates": summary.duplicates,
                "skipped": summary.skipped_total,
                "skipped_kinds": summary.skipped_kinds,
            }
        )
    )
    return 0


def run_export(args: argparse.Namespace) -> int:
    if args.min_agreement is not None and not 0 <= args.min_agreement <= 1:
        raise CommandError("--min-agreement must lie between 0 and 1")
    options = ExportOptions(
        schema=ExportSchema(args.schema),
        fmt=FileFormat(args.format),
        form=TrlForm(args.form),
        filters=ExportFilters(
            annotators=tuple(args.annotator),
            sources=tuple(args.source),
            flagged=tuple(Flag(f) for f in args.flag),
            not_flagged=tuple(Flag(f) for f in args.not_flag),
            min_agreement=args.min_agreement,
            trust=Trust(
                include_flagged=args.include_flagged,
                aggregation=Aggregation(args.aggregation),
                include_evaluation=args.include_evaluation,
            ),
        ),
    )
    if options.fmt is FileFormat.parquet and args.output is None and sys.stdout.isatty():
        raise CommandError("Parquet is binary: give -o FILE or redirect standard output")
    export = prepare_export(get_engine(), _project_id(args.project), options)
    with ExitStack() as stack:
        out: IO[bytes] = (
            stack.enter_context(open(args.output, "wb")) if args.output else sys.stdout.buffer
        )
        for chunk in export.chunks():
            out.write(chunk)
        out.flush()
    left_out = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in export.counts.left_out.items())
    print(
        f"wrote {export.counts.written} rows" + (f" (left out: {left_out})" if left_out else ""),
        file=sys.stderr,
    )
    return 0


def run_projects_create(args: argparse.Namespace) -> int:
    guidelines = ""
    if args.guidelines_file:
        try:
            with open(args.guidelines_file, encoding="utf-8") as f:
                guidelines = f.read()
        except OSError as exc:
            raise CommandError(f"cannot read {args.guidelines_file}: {exc.strerror}") from exc
    if args.labels_per_comparison < 1:
        raise CommandError("--labels-per-comparison must be at least 1")
    with session_scope() as session:
        try:
            project = project_queries.create_project(
                session,
                name=args.name,
                guidelines=guidelines,
                labels_per_comparison=args.labels_per_comparison,
            )
        except project_queries.ProjectNameTaken as exc:
            raise CommandError(f"a project named {args.name!r} exists") from exc
        print(f"created project {project.name!r} (id {project.id})")
    return 0


def run_projects_list(_args: argparse.Namespace) -> int:
    with session_scope() as session:
        for project in project_queries.list_projects(session):
            _print_project(project)
    return 0


def _print_project(project: Project) -> None:
    print(f"{project.id}\t{project.name}\tlabels per comparison: {project.labels_per_comparison}")
