"""How fast a project's statistics and quality dashboard answer with many labels (PostgreSQL).

    .venv/bin/python bench/stats.py [--labels 1000000] [--annotators 50] [--repeat 7]

Seeds one project in a fresh PostgreSQL database with server-side SQL (comparisons with up
to three labels each from different annotators, choices with realistic agreement and a left
bias, times per label, labels spread over 90 days), starts `rlhf serve` on 127.0.0.1, and
times `GET /api/v1/projects/{id}/stats` (Bearer token) and the dashboard page
`GET /projects/{id}/quality` (signed-in admin, after one reliability computation, so that
its annotators table answers from a snapshot as it does once a project is under way)
`--repeat` times each after one warm-up,
printing the median and the slowest. Also prints the server-side time of each query the
page runs, measured in-process, to show where the time goes. Target: <= 500 ms at 1,000,000.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.pg_scratch import fresh_database  # noqa: E402
from harness.processes import free_port, kill_group, rlhf_env, start_server  # noqa: E402

PASSWORD = "bench-password-123"


def seed(url: str, labels: int, annotators: int) -> int:
    """One project; labels / 2.5 comparisons; returns the project id."""
    comparisons = max(1, int(labels / 2.5))
    prompts = max(1, comparisons // 2)
    with psycopg.connect(url, autocommit=True) as conn:
        project = conn.execute(
            "INSERT INTO projects (name, guidelines, labels_per_comparison, generation_settings,"
            " training_settings, created_at) VALUES ('bench', '', 3, '{}', '{}', now()) RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO users (username, role, is_active, failed_logins, created_at)"
            " SELECT 'rater' || i, 'annotator', true, 0, now() FROM generate_series(1, %s) i",
            (annotators,),
        )
        first_user = conn.execute(
            "SELECT min(id) FROM users WHERE username LIKE 'rater%%'"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO prompts (project_id, messages, content_hash, source, created_at)"
            " SELECT %s, jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'q' || i)),"
            " md5('p' || i), 'bench', now() FROM generate_series(1, %s) i",
            (project, prompts),
        )
        first_prompt = conn.execute(
            "SELECT min(id) FROM prompts WHERE project_id = %s", (project,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO responses (prompt_id, text, content_hash, source, created_at)"
            " SELECT %s + (i - 1) / 3, 'answer ' || i, md5('r' || i), 'bench', now()"
            " FROM generate_series(1, %s) i",
            (first_prompt, prompts * 3),
        )
        first_response = conn.execute(
            "SELECT min(id) FROM responses WHERE prompt_id >= %s", (first_prompt,)
        ).fetchone()[0]
        # Comparison i: the prompt's first response against its second or third.
        conn.execute(
            "INSERT INTO comparisons (project_id, prompt_id, response_a_id, response_b_id, pair_hash,"
            " priority, source, label_count, created_at)"
            " SELECT %s, %s + (i - 1) / 2, %s + ((i - 1) / 2) * 3, %s + ((i - 1) / 2) * 3 + 1 + (i - 1) %% 2,"
            " md5('c' || i), 0, 'bench', 0, now() FROM generate_series(1, %s) i",
            (project, first_prompt, first_response, first_response, comparisons),
        )
        first_comparison = conn.execute(
            "SELECT min(id) FROM comparisons WHERE project_id = %s", (project,)
        ).fetchone()[0]
        # Label i: comparison i mod C, from annotator (comparison + i / C) mod A, so the (up
        # to three) labels of a comparison come from different people. Each comparison has
        # a "truth"; 70% of labels follow it. 55% of decided labels pick the left response.
        conn.execute(
            """
            INSERT INTO labels (comparison_id, annotator_id, source, choice, feedback, flag_harmful,
                flag_untrue, flag_unhelpful, shown_swapped, time_spent_ms, idempotency_key, created_at)
            SELECT c, %(u)s + (c + i / %(n)s) %% %(a)s, 'human', choice, '', false, false, false,
                   (choice = 'better') = left_pick, (3000 + 40000 * random() * random())::int,
                   'bench-' || i, now() - (random() * interval '90 days')
            FROM (
              SELECT i, %(c)s + i %% %(n)s AS c,
                     CASE WHEN random() < 0.7
                          THEN (ARRAY['better','better','worse','same'])[1 + (i %% %(n)s) %% 4]
                          ELSE (ARRAY['better','worse','same'])[1 + floor(random() * 3)::int] END AS choice,
                     random() < 0.55 AS left_pick
              FROM generate_series(0, %(l)s - 1) i
            ) s
            """,
            {
                "u": first_user,
                "n": comparisons,
                "a": annotators,
                "c": first_comparison,
                "l": labels,
            },
        )
        conn.execute(
            "UPDATE comparisons c SET label_count = t.n FROM (SELECT comparison_id, count(*) n"
            " FROM labels GROUP BY comparison_id) t WHERE t.comparison_id = c.id"
        )
        conn.execute("VACUUM ANALYZE")
    return int(project)


def timed(client: httpx.Client, path: str, repeat: int, **kwargs: object) -> list[float]:
    client.get(path, **kwargs).raise_for_status()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = client.get(path, **kwargs)
        times.append((time.perf_counter() - start) * 1000)
        answer.raise_for_status()
    return times


def breakdown(url: str, project_id: int) -> None:
    """Each query of the page, in-process, for where the time goes."""
    from sqlalchemy.orm import Session

    from app import stats as stats_queries
    from app.config import Settings
    from app.db import make_engine
    from app.quality import recompute as reliability
    from app.queries import dashboard
    from app.queries import quality as quality_queries

    engine = make_engine(Settings(database_url=url))
    with Session(engine) as session:
        from app.models import Project

        project = session.get(Project, project_id)
        assert project is not None
        parts = {
            "project_stats (the /stats body)": lambda: stats_queries.project_stats(
                session, project
            ),
            "labels_per_day": lambda: dashboard.labels_per_day(session, project_id),
            "time_per_label": lambda: dashboard.time_per_label(session, project_id),
            "agreement_over_time": lambda: dashboard.agreement_over_time(session, project_id),
            "annotator table and histories": lambda: (
                reliability.annotator_table(session, project_id),
                quality_queries.status_histories(session, project_id),
            ),
        }
        for name, run in parts.items():
            run()
            samples = []
            for _ in range(3):
                start = time.perf_counter()
                run()
                samples.append((time.perf_counter() - start) * 1000)
            print(f"  {name:<34} {statistics.median(samples):8.1f} ms")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(
        f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"
    )
    with fresh_database() as url:
        sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        data = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-stats-{os.getpid()}"
        data.mkdir(exist_ok=True)
        env = rlhf_env(sa_url, data)
        subprocess.run([sys.executable, "-m", "app", "migrate"], env=env, cwd=REPO, check=True)
        start = time.perf_counter()
        project_id = seed(url, args.labels, args.annotators)
        print(
            f"seeded {args.labels:,} labels, {args.annotators} annotators in {time.perf_counter() - start:.1f} s"
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "app",
                "users",
                "create",
                "benchadmin",
                "--role",
                "admin",
                "--password-stdin",
            ],
            env=env,
            cwd=REPO,
            check=True,
            input=PASSWORD,
            text=True,
            capture_output=True,
        )
        token = (
            subprocess.run(
                [sys.executable, "-m", "app", "tokens", "create", "benchadmin"],
                env=env,
                cwd=REPO,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .split()[-1]
        )
        # The annotators table answers from the last reliability computation; made here once,
        # as the worker or an earlier visit would have, so the page is timed in its steady
        # state rather than beside a first computation running in the server.
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "app", "annotators", str(project_id), "--json"],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        print(f"reliability computed in {time.perf_counter() - start:.1f} s (rlhf annotators)")
        port = free_port()
        server = start_server(env, port)
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=120) as client:
                api = timed(
                    client,
                    f"/api/v1/projects/{project_id}/stats",
                    args.repeat,
                    headers={"Authorization": f"Bearer {token}"},
                )
                page = client.get("/login")
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert csrf is not None
                client.post(
                    "/login",
                    data={
                        "username": "benchadmin",
                        "password": PASSWORD,
                        "csrf_token": csrf.group(1),
                    },
                )
                html = timed(client, f"/projects/{project_id}/quality", args.repeat)
            for name, times in (
                ("GET /api/v1/projects/{id}/stats", api),
                ("GET /projects/{id}/quality", html),
            ):
                print(
                    f"{name:<34} median {statistics.median(times):8.1f} ms   max {max(times):8.1f} ms   n {len(times)}"
                )
            print("in-process, per query (median of 3):")
            breakdown(sa_url, project_id)
        finally:
            kill_group(server, signal.SIGTERM)
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
