"""Screenshots of RLHF Studio's pages from a demo instance, for the README and for review.

    .venv/bin/python scripts/screenshots.py                 # the README's three PNGs
    .venv/bin/python scripts/screenshots.py --all -o /tmp/shots --phone --dark

Builds a throwaway instance (SQLite in a temporary directory): `rlhf demo`, then people,
a month of labels from five annotators with realistic disagreement, a finished reward job
and a running PPO job with their metrics, and starts `rlhf serve`. Headless Chromium
(/usr/bin/chromium) signs in and photographs each page. PNGs are quantised with Pillow
when it is installed, to keep the committed files small.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.importing.parsers import ImportFormat  # noqa: E402
from app.importing.pipeline import import_preferences  # noqa: E402
from app.models import (  # noqa: E402
    Comparison,
    Label,
    ModelKind,
    Project,
    Role,
)
from app.queries import jobs as job_queries  # noqa: E402
from app.queries import model_versions as version_queries  # noqa: E402
from app.queries import users as user_queries  # noqa: E402

PASSWORD = "screenshots-password"
SECRET = "screenshots-secret-key-0123456789-abcdefghijkl"
README_SHOTS = {
    "rating-page.png": "/rate",
    "quality-dashboard.png": "/projects/{project}/quality",
    "job-page.png": "/jobs/{ppo_job}",
}
ALL_PAGES = {
    "login": "/login",
    "projects": "/projects",
    "project-new": "/projects/new",
    "project": "/projects/{project}",
    "project-edit": "/projects/{project}/edit",
    "quality": "/projects/{project}/quality",
    "people": "/people",
    "jobs": "/jobs",
    "job-reward": "/jobs/{reward_job}",
    "job-ppo": "/jobs/{ppo_job}",
    "models": "/models",
    "rate": "/rate",
    "docs": "/docs",
    "redoc": "/redoc",
    "forbidden": "/people?as=annotator",
}
TOPICS = [
    "Explain recursion to a ten-year-old.",
    "How do I keep basil alive indoors?",
    "Summarise the causes of the French Revolution in three sentences.",
    "What is a good first programming language?",
    "Write a polite email declining a meeting.",
    "Why is the sky blue?",
    "How many eggs are in a dozen and a half?",
    "Give me a 20-minute bodyweight workout.",
]


def _rlhf(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def seed(session: Session, rng: random.Random) -> dict[str, int]:
    """People, a month of labels, two jobs with metrics; returns ids the pages need."""
    project = session.scalar(select(Project).where(Project.name == "Demo"))
    assert project is not None
    project.labels_per_comparison = 3
    for name, role in (("admin", Role.admin), ("trainer", Role.trainer)):
        user_queries.create_user(session, name, role, PASSWORD)
    raters = [
        user_queries.create_user(session, name, Role.annotator, PASSWORD)
        for name in ("amira", "bo", "chen", "dara", "eli")
    ]
    lines = []
    for i in range(160):
        topic = TOPICS[i % len(TOPICS)]
        row = {
            "prompt": f"{topic} (variant {i})",
            "response_a": f"A careful, correct answer to: {topic}",
            "response_b": f"A shorter, vaguer answer to: {topic} ({i})",
        }
        lines.append(json.dumps(row))
    data = io.BytesIO("\n".join(lines).encode())
    import_preferences(session, project.id, data, ImportFormat.pairs, queue=True)
    # The demo's hand-written pairs come first in the rating queue: they read better.
    for comparison in session.scalars(
        select(Comparison).where(Comparison.project_id == project.id, Comparison.source == "demo")
    ):
        comparison.priority = 10
    session.flush()
    comparisons = list(
        session.scalars(select(Comparison).where(Comparison.project_id == project.id))
    )
    now = datetime.now(UTC)
    # Each comparison has a "true" answer; careful raters match it more often. Agreement
    # improves over the month as the guidelines get clearer.
    careful = {raters[0].id: 0.9, raters[1].id: 0.85, raters[2].id: 0.8, raters[3].id: 0.7}
    # Busier on weekdays, and the team grew in the second half of the month.
    weights = [
        (2 if (now - timedelta(days=d)).weekday() < 5 else 0.6) * (1.6 if d < 15 else 1.0)
        for d in range(30)
    ]
    for comparison in comparisons[:-12]:
        truth = rng.choices(["better", "worse", "same"], [0.55, 0.3, 0.15])[0]
        day = rng.choices(range(30), weights)[0]
        for rater in rng.sample(raters, 3):
            skill = careful.get(rater.id, 0.45) + (0.1 if day < 12 else 0.0)
            choice = truth if rng.random() < skill else rng.choice(["better", "worse", "same"])
            swapped = rng.random() < 0.5
            if rater is raters[4] and choice != "same":
                # eli likes whatever is on the left
                choice = "better" if swapped else "worse"
            created = now - timedelta(days=day, minutes=rng.randint(0, 600))
            session.add(
                Label(
                    comparison_id=comparison.id,
                    annotator_id=rater.id,
                    source="human",
                    choice=choice,
                    strength=None,
                    feedback="",
                    flag_harmful=False,
                    flag_untrue=False,
                    flag_unhelpful=rng.random() < 0.05,
                    shown_swapped=swapped,
                    time_spent_ms=int(rng.lognormvariate(math.log(14_000), 0.7)),
                    idempotency_key=f"shot-{comparison.id}-{rater.id}",
                    created_at=created,
                )
            )
            comparison.label_count += 1
    session.flush()
    reward_job = _finished_reward_job(session, project)
    ppo_job = _running_ppo_job(session, project, rng)
    return {"project": project.id, "reward_job": reward_job, "ppo_job": ppo_job}


def _finished_reward_job(session: Session, project: Project) -> int:
    job = job_queries.enqueue_job(
        session, project_id=project.id, kind="reward", params={"epochs": 3}, max_attempts=3
    )
    job_queries.claim_job(session, job.id, "shots", 600)
    for step in range(1, 61):
        metrics = {"train_loss": 0.69 * math.exp(-step / 30) + 0.25, "lr": 2e-5}
        if step % 20 == 0:
            metrics |= {
                "accuracy": 0.58 + step / 300,
                "loss": 0.62 - step / 400,
                "epoch": step // 20 - 1,
            }
        job_queries.record_progress(session, job.id, "shots", step, step / 60, metrics)
    job_queries.complete_job(session, job.id, "shots", {"accuracy": 0.78, "loss": 0.47})
    version_queries.register_version(
        session,
        project=project,
        kind=ModelKind.reward,
        job_id=job.id,
        base_model="all-minilm-l6-v2",
        path="reward/demo",
        metrics={"accuracy": 0.78, "loss": 0.47, "ece": 0.04, "n_val": 48.0},
        params={},
    )
    return job.id


def _running_ppo_job(session: Session, project: Project, rng: random.Random) -> int:
    job = job_queries.enqueue_job(
        session, project_id=project.id, kind="ppo", params={"total_steps": 100}, max_attempts=3
    )
    job_queries.claim_job(session, job.id, "shots", 3600)
    for step in range(1, 43):
        metrics = {
            "objective/scores": 0.1 + 0.9 * (1 - math.exp(-step / 15)) + rng.gauss(0, 0.05),
            "objective/kl": 0.002 * step**1.3 + abs(rng.gauss(0, 0.01)),
            "objective/entropy": 38 - step * 0.2 + rng.gauss(0, 0.5),
            "response/length": 52 - step * 0.25 + rng.gauss(0, 1.5),
            "policy/clipfrac_avg": 0.05 + abs(rng.gauss(0, 0.02)),
            "loss/value_avg": 0.4 * math.exp(-step / 20) + 0.05,
        }
        job_queries.record_progress(session, job.id, "shots", step, step / 100, metrics)
        if step % 10 == 0:
            job_queries.record_samples(
                session,
                job.id,
                "shots",
                step,
                [
                    {
                        "prompt": "How do I keep basil alive indoors?",
                        "response": "Give it 6+ hours of sun, water when the top inch is dry, "
                        "and pinch off flower buds.",
                        "score": 0.3 + step / 60,
                    }
                ],
            )
    return job.id


@contextmanager
def demo_instance() -> Iterator[tuple[str, dict[str, int]]]:
    with tempfile.TemporaryDirectory(prefix="rlhf-shots-") as tmp:
        data = Path(tmp)
        url = f"sqlite:///{data / 'rlhf.db'}"
        env = {
            **os.environ,
            "RLHF_DATABASE_URL": url,
            "RLHF_DATA_DIR": str(data),
            "RLHF_SECRET_KEY": SECRET,
            "RLHF_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO),
        }
        _rlhf(env, "migrate")
        _rlhf(env, "demo", "--password", PASSWORD)
        engine = make_engine(Settings(database_url=url, data_dir=data))
        with Session(engine) as session, session.begin():
            ids = seed(session, random.Random(7))
        engine.dispose()
        port = 8765
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base)
            yield base, ids
        finally:
            server.terminate()
            server.wait(timeout=10)


def _wait(base: str) -> None:
    import httpx

    for _ in range(100):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the demo server did not start")


def _shrink(path: Path) -> None:
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        small.save(path, optimize=True)


def take(args: argparse.Namespace) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pages = ALL_PAGES if args.all else README_SHOTS
    sizes = [("desktop", {"width": 1280, "height": 900})]
    if args.phone:
        sizes.append(("phone", {"width": 390, "height": 844}))
    schemes = ["light"] + (["dark"] if args.dark else [])
    written = []
    with demo_instance() as (base, ids), sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for scheme in schemes:
            for size_name, viewport in sizes:
                context = browser.new_context(
                    base_url=base, viewport=viewport, color_scheme=scheme, device_scale_factor=1
                )
                page = context.new_page()
                signed_in = None
                for name, path in pages.items():
                    who = "demo" if path == "/rate" else "admin"
                    if "as=annotator" in path:
                        who, path = "demo", path.split("?")[0]
                    if path == "/login":
                        who = None
                    if who != signed_in:
                        context.clear_cookies()
                        if who:
                            page.goto("/login")
                            page.get_by_label("Username").fill(who)
                            page.get_by_label("Password").fill(PASSWORD)
                            page.get_by_role("button", name="Sign in").click()
                            page.wait_for_load_state("networkidle")
                        signed_in = who
                    page.goto(path.format(**ids))
                    page.wait_for_load_state("networkidle")
                    page.wait_for_timeout(300 if "jobs" not in path else 1200)
                    stem = name.removesuffix(".png")
                    suffix = (
                        ""
                        if not (args.all or args.phone or args.dark)
                        else f"-{size_name}-{scheme}"
                    )
                    target = out / f"{stem}{suffix}.png"
                    page.screenshot(path=str(target), full_page=args.full or args.all)
                    _shrink(target)
                    written.append(target)
                context.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--all", action="store_true", help="every page, full length")
    parser.add_argument("--phone", action="store_true", help="also at phone width (390 px)")
    parser.add_argument("--dark", action="store_true", help="also in dark mode")
    parser.add_argument("--full", action="store_true", help="whole page, not the first screen")
    args = parser.parse_args()
    for path in take(args):
        print(f"{path} ({path.stat().st_size // 1024} kB)")


if __name__ == "__main__":
    main()
