"""The leaderboard over many battles: how long ratings with bootstrap intervals take.

1. The maths alone: BATTLES battles among MODELS models drawn from known Bradley-Terry
   strengths (10 % ties), aggregated as the database query returns them, then ``leaderboard``
   with ROUNDS bootstrap rounds: cold (cache cleared) and cached, over REPEATS runs. Also
   prints how far the ratings land from the truth.
2. End to end through the database (``--database sqlite|postgres``): the same battles as
   labelled comparisons between MODELS policy versions of one project, then
   ``GET /api/v1/projects/{id}/leaderboard`` through the app (TestClient): cold (the counting
   query over every label plus the maths), again with no new label (three index lookups find
   nothing new: counts and ratings from the caches), and after one new label (only labels
   newer than the cached counts are counted; the ratings are fitted again).

    .venv/bin/python bench/leaderboard.py [--battles 100000] [--models 20] [--rounds 1000]
        [--repeats 5] [--database none|sqlite|postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.leaderboard import board as board_module  # noqa: E402
from app.leaderboard.board import Battle, Source, leaderboard  # noqa: E402
from app.leaderboard.bradley_terry import ELO_PER_NAT  # noqa: E402

TIE_SHARE = 0.1


def draw(
    models: int, battles: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(strengths, A index, B index, choice code 0 worse / 1 same / 2 better) per battle."""
    rng = np.random.default_rng(seed)
    strengths = rng.normal(0.0, 0.6, models)
    a = rng.integers(0, models, battles)
    b = rng.integers(0, models - 1, battles)
    b = b + (b >= a)
    b_wins = rng.random(battles) < 1 / (1 + np.exp(strengths[a] - strengths[b]))
    choice = np.where(rng.random(battles) < TIE_SHARE, 1, np.where(b_wins, 2, 0))
    return strengths, a, b, choice


CHOICES = ("worse", "same", "better")


def aggregated(a: np.ndarray, b: np.ndarray, choice: np.ndarray) -> list[Battle]:
    counts = Counter(zip(a.tolist(), b.tolist(), choice.tolist(), strict=True))
    return [
        Battle(Source(version_id=i), Source(version_id=j), CHOICES[c], n)
        for (i, j, c), n in counts.items()
    ]


def bench_maths(args: argparse.Namespace) -> None:
    strengths, a, b, choice = draw(args.models, args.battles)
    battles = aggregated(a, b, choice)
    cold, cold_cpu, warm = [], [], []
    for _ in range(args.repeats):
        board_module._cached_leaderboard.cache_clear()
        t0, c0 = time.perf_counter(), time.process_time()
        result = leaderboard(battles, rounds=args.rounds)
        cold.append(time.perf_counter() - t0)
        cold_cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        leaderboard(battles, rounds=args.rounds)
        warm.append(time.perf_counter() - t0)
    print(
        f"maths: {args.battles} battles ({len(battles)} aggregated cells), {args.models} models, "
        f"{args.rounds} bootstrap rounds"
    )
    print(
        f"  cold   median {statistics.median(cold) * 1000:8.1f} ms   max {max(cold) * 1000:8.1f} ms"
        f"   CPU median {statistics.median(cold_cpu) * 1000:8.1f} ms   (n {len(cold)})"
    )
    print(
        f"  cached median {statistics.median(warm) * 1000:8.1f} ms   max {max(warm) * 1000:8.1f} ms"
    )
    # Ties are drawn regardless of strength, so the truth on the leaderboard's scale (ties
    # count half) is shrunk by (1 - TIE_SHARE) in expected score; compare orders and widths.
    truth = 1000 + ELO_PER_NAT * (strengths - strengths.mean())
    order_truth = list(np.argsort(-truth))
    order_found = [e.source.version_id for e in result.entries]
    widths = [e.ci_high - e.ci_low for e in result.entries]
    rho = np.corrcoef([truth[i] for i in order_found], [e.rating for e in result.entries])[0, 1]
    print(
        f"  order matches the truth: {order_found == order_truth}; correlation with true "
        f"ratings {rho:.4f}; median 95 % interval width {statistics.median(widths):.1f} points"
    )


def seed_database(url: str, data_dir: Path, args: argparse.Namespace) -> tuple[object, int, str]:
    from sqlalchemy import insert

    from app.config import Settings
    from app.db import make_sessionmaker
    from app.models import Comparison, Label, ModelVersion, Project, Prompt, Response, Role
    from app.queries.users import create_token, create_user
    from harness.databases import migrated_engine

    engine = migrated_engine(url, data_dir)
    sessions = make_sessionmaker(engine)
    _, a, b, choice = draw(args.models, args.battles)
    t0 = time.perf_counter()
    with sessions() as session, session.begin():
        project = Project(name=f"bench {uuid.uuid4().hex[:6]}", guidelines="",
                          generation_settings={}, training_settings={})  # fmt: skip
        session.add(project)
        session.flush()
        versions = [
            ModelVersion(project_id=project.id, kind="policy", name=f"policy-v{i}",
                         base_model="bench", path="bench", metrics={}, params={})
            for i in range(args.models)
        ]  # fmt: skip
        session.add_all(versions)
        session.flush()
        vid = [v.id for v in versions]
        user = create_user(session, f"bench{uuid.uuid4().hex[:6]}", Role.admin, None)
        _, token = create_token(session, user, "bench")
        project_id = project.id
        chunk = 10_000
        for start in range(0, args.battles, chunk):
            idx = range(start, min(start + chunk, args.battles))
            prompt_ids = session.scalars(
                insert(Prompt).returning(Prompt.id, sort_by_parameter_order=True),
                [{"project_id": project_id, "messages": [{"role": "user", "content": f"q{i}"}],
                  "content_hash": f"{i:064x}", "source": "bench"} for i in idx],
            ).all()  # fmt: skip
            response_ids = session.scalars(
                insert(Response).returning(Response.id, sort_by_parameter_order=True),
                [{"prompt_id": p, "text": f"{side}{i}", "content_hash": f"{side}{i}",
                  "source": "model", "model_version_id": vid[int(m[i])]}
                 for i, p in zip(idx, prompt_ids, strict=True)
                 for side, m in (("a", a), ("b", b))],
            ).all()  # fmt: skip
            comparison_ids = session.scalars(
                insert(Comparison).returning(Comparison.id, sort_by_parameter_order=True),
                [{"project_id": project_id, "prompt_id": p, "response_a_id": response_ids[2 * k],
                  "response_b_id": response_ids[2 * k + 1], "pair_hash": f"{i:064x}",
                  "source": "bench", "label_count": 1, "evaluation": True}
                 for k, (i, p) in enumerate(zip(idx, prompt_ids, strict=True))],
            ).all()  # fmt: skip
            session.execute(
                insert(Label),
                [{"comparison_id": c, "annotator_id": None, "source": "import:bench",
                  "choice": CHOICES[int(choice[i])], "idempotency_key": f"bench:{i}"}
                 for i, c in zip(idx, comparison_ids, strict=True)],
            )  # fmt: skip
    print(f"seeded {args.battles} labelled battles in {time.perf_counter() - t0:.1f} s")
    del Settings
    return engine, project_id, token


def bench_database(args: argparse.Namespace, url: str, data_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    engine, project_id, token = seed_database(url, data_dir, args)
    settings = Settings(database_url=url, data_dir=data_dir, secret_key="b" * 48)
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/projects/{project_id}/leaderboard"
    with TestClient(app) as client:

        def timed() -> tuple[float, float]:
            """(wall, CPU of this process) seconds of one request; PostgreSQL's own CPU is
            not in the second figure."""
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get(path, headers=headers)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            assert response.status_code == 200, response.text
            assert len(response.json()["models"]) == args.models
            return elapsed, cpu

        from app.leaderboard import project as project_module

        cold = []
        for _ in range(args.repeats):
            board_module._cached_leaderboard.cache_clear()
            project_module._counted.clear()
            cold.append(timed())
        warm = [timed() for _ in range(args.repeats)]
        after_label = []
        from sqlalchemy import insert, select

        from app.models import Comparison, Label

        for n in range(args.repeats):
            with engine.begin() as conn:  # type: ignore[attr-defined]
                comparison = conn.scalar(
                    select(Comparison.id).where(Comparison.project_id == project_id).limit(1)
                )
                conn.execute(insert(Label).values(comparison_id=comparison, annotator_id=None,
                             source="import:bench2", choice="better",
                             idempotency_key=f"extra:{uuid.uuid4().hex}:{n}"))  # fmt: skip
            after_label.append(timed())
    print(f"GET {path} ({engine.dialect.name}, {args.battles} labels):")  # type: ignore[attr-defined]
    for name, values in (("cold (nothing cached)", cold), ("no new label (all cached)", warm),
                         ("after one new label", after_label)):  # fmt: skip
        wall = [w for w, _ in values]
        cpu = [c for _, c in values]
        print(
            f"  {name:28s} median {statistics.median(wall) * 1000:8.1f} ms"
            f"   max {max(wall) * 1000:8.1f} ms   CPU median {statistics.median(cpu) * 1000:8.1f} ms"
        )
    engine.dispose()  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--battles", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database", choices=["none", "sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    bench_maths(args)
    if args.database == "none":
        return
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        if args.database == "sqlite":
            bench_database(args, f"sqlite:///{data_dir / 'bench.db'}", data_dir)
        else:
            sys.path.insert(0, str(REPO / "bench"))
            from pg_scratch import fresh_database

            with fresh_database() as url:
                bench_database(
                    args, url.replace("postgresql://", "postgresql+psycopg://"), data_dir
                )


if __name__ == "__main__":
    main()
