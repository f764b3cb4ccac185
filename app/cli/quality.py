"""`rlhf annotators` (the reliability table) and `rlhf simulate` (simulated annotators)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.cli.errors import CommandError
from app.config import get_settings
from app.db import session_scope
from app.importing.parsers import ImportFormat
from app.models import Comparison, ModelKind, Project, Role
from app.quality.recompute import annotator_table, recompute
from app.queries import model_versions as version_queries
from app.queries import projects as project_queries
from app.queries import users as user_queries
from app.simulation import spec as raters_spec
from app.simulation.raters import build_raters
from app.simulation.runner import Run, SimulatedAnnotator, new_username, simulate, summary
from app.simulation.truth import FileTruth, TruthSource

SIMULATE_EPILOG = """\
--raters SPEC: comma-separated KIND:COUNT[:PARAM] items, e.g.
  honest:20:0.75,random:3,left:2,always-better:2,flipper:2,fast:1

  honest[:ACCURACY]    the truth with this probability (0.75), else the other answer
  random               Better or Worse at random
  left                 always the response on the left of the screen
  always-better|worse|same
                       always that choice (as the API takes it: B compared with A)
  flipper              always the opposite of the truth
  fast[:ACCURACY]      like honest, in half a second per label
  colluders[:SHARE]    a group answering against the truth together on this share of
                       pairs (0.5), honestly otherwise
"""


def register(commands: Any) -> None:
    table = commands.add_parser(
        "annotators", help="the annotators of a project: reliability, status and why"
    )
    table.add_argument("project", help="project id or name")
    table.add_argument(
        "--cached", action="store_true", help="print the last computation, do not recompute"
    )
    table.add_argument("--json", action="store_true", help="print JSON instead of a table")
    table.set_defaults(handler=run_annotators)

    sim = commands.add_parser(
        "simulate",
        help="simulated annotators label the project through the HTTP API",
        description="Simulated annotators, each with a user and a token of its own, label the"
        " project through a running server's API, answering from a labelled file (--truth,"
        " pairs matched by content) or by a reward model version's scores (--judge). Prints"
        " JSON: per annotator its kind, labels, accuracy against the truth, status, and after"
        " how many labels it was flagged.",
        epilog=SIMULATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("project", help="project id or name")
    truth = sim.add_mutually_exclusive_group(required=True)
    truth.add_argument("--truth", help="labelled file (pairs with label, hh, trl)")
    truth.add_argument(
        "--judge",
        metavar="REWARD_VERSION",
        help="a reward model version (id or name) whose higher-scored response is the right"
        " answer: with a judge trained on labels the proxy reward model never saw, a dry run"
        " measures over-optimisation without people",
    )
    sim.add_argument(
        "--judge-tie-margin",
        type=float,
        default=0.0,
        help="score differences up to this are a tie (Same) for the judge",
    )
    sim.add_argument(
        "--judge-device", default=None, help="where the judge runs (default: cuda if present)"
    )
    sim.add_argument("--format", choices=[f.value for f in ImportFormat], default=None)
    sim.add_argument(
        "--raters",
        required=True,
        help='e.g. "honest:20:0.75,random:3,left:2,always-better:2,flipper:2,fast:1"',
    )
    sim.add_argument("--labels", type=int, default=1000, help="labels to make in all")
    sim.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    sim.add_argument("--url", default=None, help="the server (default: RLHF_HOST:RLHF_PORT)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument(
        "--check-every",
        type=int,
        default=100,
        help="recompute reliability every N labels to see when raters get flagged (0: only at the end)",
    )
    sim.set_defaults(handler=run_simulate)


def _project(ref: str) -> Project:
    with session_scope() as session:
        project = project_queries.find_project(session, ref)
        if project is None:
            raise CommandError(f"no project {ref!r} (give its id or name)")
        return project


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{round(100 * value)} %"


def run_annotators(args: argparse.Namespace) -> int:
    project = _project(args.project)
    with session_scope() as session:
        if not args.cached:
            recompute(session, project.id)
        computed_at, rows = annotator_table(session, project.id)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if computed_at is None:
        print(f"project {project.name!r}: not computed yet (run without --cached)")
        return 0
    print(f"project {project.name!r}, computed {computed_at.isoformat(timespec='seconds')}")
    print(
        f"{'annotator':<28} {'status':<10} {'labels':>6} {'gold':>12} {'agree':>6} {'comp':>6}  why"
    )
    for row in sorted(rows, key=lambda r: (r["status"], r["username"])):
        gold = f"{_pct(row['gold_accuracy'])}/{row['gold_labels']}" if row["gold_labels"] else "-"
        print(
            f"{row['username'][:28]:<28} {row['status']:<10} {row['labels']:>6} {gold:>12}"
            f" {_pct(row['agreement']):>6} {_pct(row['competence']):>6}  {'; '.join(row['reasons'])}"
        )
    return 0


def _open_pairs(project_id: int, wanted: int) -> int:
    with session_scope() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Comparison)
                .where(
                    Comparison.project_id == project_id,
                    Comparison.gold_choice.is_(None),
                    Comparison.label_count < wanted,
                )
            )
            or 0
        )


def _make_annotators(project: Project, raters: list[Any]) -> list[SimulatedAnnotator]:
    made = []
    with session_scope() as session:
        for number, rater in enumerate(raters):
            name = new_username(f"sim{project.id}", rater.kind, number)
            user = user_queries.create_user(session, name, Role.annotator, None)
            _, token = user_queries.create_token(session, user, "simulate")
            made.append(SimulatedAnnotator(rater, name, user.id, token))
    return made


def _check(project_id: int) -> dict[int, tuple[str, int]]:
    with session_scope() as session:
        recompute(session, project_id)
        _, rows = annotator_table(session, project_id)
    return {row["user_id"]: (row["status"], row["labels"]) for row in rows}


def _file_truth(args: argparse.Namespace) -> FileTruth:
    try:
        truth = FileTruth.read(Path(args.truth), ImportFormat(args.format) if args.format else None)
    except (OSError, ValueError) as exc:
        raise CommandError(f"--truth: {exc}") from exc
    if len(truth) == 0:
        raise CommandError(f"--truth: {args.truth} holds no labelled pair")
    return truth


def _judge(args: argparse.Namespace, project: Project) -> tuple[TruthSource, dict[str, Any]]:
    """The reward model version named by --judge, loaded as the raters' truth. Any reward
    version may judge, another project's too: a judge is best trained on labels apart."""
    if args.judge_tie_margin < 0:
        raise CommandError("--judge-tie-margin must be at least 0")
    with session_scope() as session:
        version = version_queries.find_version(session, args.judge, str(project.id))
        if version is None:
            raise CommandError(f"--judge: no model version {args.judge!r}")
        try:
            version_queries.check_serves(version, ModelKind.reward, None)
        except version_queries.UnusableVersion as exc:
            raise CommandError(f"--judge: {exc}") from None
        path = version_queries.resolve_path(get_settings().model_dir, version.path)
        info = {"model_version_id": version.id, "name": version.name}
    # torch and transformers load only now that the input is good.
    import torch

    from trainer.judging import RewardJudge

    device = args.judge_device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        judge = RewardJudge(path, tie_margin=args.judge_tie_margin, device=device)
    except (OSError, ValueError, RuntimeError) as exc:
        raise CommandError(f"--judge: cannot load reward model version {info['model_version_id']}"
                           f" from {path}: {exc}") from exc  # fmt: skip
    return judge, {**info, "tie_margin": args.judge_tie_margin, "device": device}


def run_simulate(args: argparse.Namespace) -> int:
    try:
        groups = raters_spec.parse_spec(args.raters)
    except raters_spec.SpecError as exc:
        raise CommandError(f"--raters: {exc}") from exc
    if args.labels < 1 or args.concurrency < 1:
        raise CommandError("--labels and --concurrency must be at least 1")
    project = _project(args.project)
    if _open_pairs(project.id, project.labels_per_comparison) == 0:
        raise CommandError(
            f"project {project.name!r} has nothing to rate: every pair has its labels, or none"
            " were imported (rlhf import PROJECT FILE)"
        )
    judge_info: dict[str, Any] | None = None
    truth: TruthSource
    if args.judge is not None:
        truth, judge_info = _judge(args, project)
    else:
        truth = _file_truth(args)
    settings = get_settings()
    url = args.url or f"http://{settings.host}:{settings.port}"
    annotators = _make_annotators(project, build_raters(groups, args.seed))
    run = Run(
        base_url=url,
        project_id=project.id,
        annotators=annotators,
        truth=truth,
        budget=args.labels,
        concurrency=args.concurrency,
        check_every=args.check_every,
        check=lambda: _check(project.id),
    )
    try:
        asyncio.run(simulate(run))
    except Exception as exc:  # the server went away, refused a token, ...
        raise CommandError(f"the simulation stopped: {exc}") from exc
    result = summary(run)
    if judge_info is not None:
        result["judge"] = judge_info
    print(json.dumps(result, indent=2))
    if run.made == 0:
        print(f"rlhf simulate: no label was made in project {project.name!r}", file=sys.stderr)
    return 0
