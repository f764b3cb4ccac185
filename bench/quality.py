"""Quality control benchmark (issue 14): simulated raters through the real server on PostgreSQL.

    .venv/bin/python bench/quality.py                      # simulation, exports, cost figures
    .venv/bin/python bench/quality.py --reward             # + three reward models (CPU heavy)
    .venv/bin/python bench/quality.py --parts simulate --labels 1200   # a quick look

Parts (`--parts`, comma-separated; default all but the reward models):

- `simulate`: the shared HH pairs (A/B randomised, their human choice as the truth), 30
  raters (20 honest at 0.75, 3 random, 2 left, 2 always-Better, 2 flippers, 1 fast) label
  through `rlhf serve --workers 2` with labels_per_comparison 3 and gold_rate 0.05 (gold:
  100 more HH pairs with their answer). Reliability is recomputed every `--check-every`
  labels: who was flagged, after how many of their labels. Then the accuracy against the
  truth of three trl exports (default; include_flagged=true; the honest raters alone) and,
  with `--reward`, of the default reward model trained one epoch on each (held-out HH).
- `throughput`: bench/ingest.py's load (GET next + POST label, `--annotators` clients) on a
  200,000-pair project with 5 % gold pairs, gold_rate 0 against 0.05, alternating runs.
- `recompute`: 1,000,000 labels (300 annotators, 333,334 pairs) seeded by SQL; the time of
  one reliability computation, and the annotators endpoint's latency from its snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = Path("/work/shared/data")

from app.config import Settings  # noqa: E402
from app.db import make_engine, make_sessionmaker  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from bench.ingest import drive, percentile, seed, server  # noqa: E402
from bench.pg_scratch import database_name, fresh_database  # noqa: E402

# A shared, busy machine may take minutes to start a server.
START_TIMEOUT = 300.0
SPEC = "honest:20:0.75,random:3,left:2,always-better:2,flipper:2,fast:1"


def migrated(url: str, data_dir: Path) -> Any:
    engine = make_engine(Settings(database_url=url, data_dir=data_dir))
    upgrade(engine)
    return engine


def admin_token(url: str) -> str:
    """An admin with a token, written straight into the database."""
    import hashlib
    import secrets

    plain = "rlhf_" + secrets.token_urlsafe(32)
    with psycopg.connect(url) as conn:
        user_id = conn.execute(
            "INSERT INTO users (username, role, is_active, failed_logins, created_at)"
            " VALUES ('bench-admin', 'admin', true, 0, now()) RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at)"
            " VALUES (%s, 'bench', %s, %s, now())",
            (user_id, hashlib.sha256(plain.encode()).hexdigest(), plain[:12]),
        )
    return plain


# ---------------------------------------------------------------- the HH pairs


def _ok(example: Any) -> bool:
    """Whether the importer takes the pair (a few HH turns are empty)."""
    from app.importing.parsers import ImportFormat, parse_line
    from app.importing.records import LineError, SkipLine

    try:
        parse_line(ImportFormat.pairs, pair_row(example))
    except (LineError, SkipLine):
        return False
    return example.response_a != example.response_b


def hh_splits(pool: int, gold: int, held_out: int) -> tuple[list[Any], list[Any], list[Any]]:
    """(pairs to rate, gold pairs, held-out pairs): HH examples, A/B randomised (seeded)."""
    from trainer.jobs.preference_files import read_preference_file
    from trainer.reward.data import randomise_sides

    # The importer's own parser: records it would skip are not in the pool.
    helpful_file = read_preference_file(DATA / "hh-helpful-base-2354.jsonl.gz", "hh")
    harmless_file = read_preference_file(DATA / "hh-harmless-base-1800.jsonl.gz", "hh")
    helpful = randomise_sides(helpful_file.examples, seed=1)
    harmless = randomise_sides(harmless_file.examples, seed=2, group_offset=10_000)
    everything = [e for e in helpful + harmless if e.choice in ("better", "worse") and _ok(e)]
    random.Random(0).shuffle(everything)
    rate = everything[:pool]
    golden = everything[pool : pool + gold]
    evaluation = everything[pool + gold : pool + gold + held_out]
    return rate, golden, evaluation


def pair_row(example: Any, **extra: Any) -> bytes:
    row = {
        "prompt": example.prompt,
        "response_a": example.response_a,
        "response_b": example.response_b,
        **extra,
    }
    return orjson.dumps(row) + b"\n"


# ---------------------------------------------------------------- simulate


def run_simulation(args: argparse.Namespace, out: dict[str, Any]) -> None:
    from sqlalchemy.orm import Session

    from app.models import Role
    from app.quality.recompute import annotator_table, recompute
    from app.queries import users as user_queries
    from app.simulation.raters import build_raters
    from app.simulation.runner import Run, SimulatedAnnotator, new_username, simulate, summary
    from app.simulation.spec import parse_spec
    from app.simulation.truth import FileTruth

    rate, golden, evaluation = hh_splits(args.pool, args.gold, args.held_out)
    work = Path(tempfile.mkdtemp(prefix="bench-quality-"))
    truth_file = work / "truth.jsonl"
    truth_file.write_bytes(b"".join(pair_row(e, label=e.choice) for e in rate + golden))
    pairs = b"".join(pair_row(e) for e in rate) + b"".join(
        pair_row(e, gold=e.choice) for e in golden
    )
    with fresh_database() as url:
        engine = migrated(url, work)
        token = admin_token(url)
        sessions = make_sessionmaker(engine)
        with server(url, args.workers, work, START_TIMEOUT) as (_, port):
            base = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {token}"}
            project = httpx.post(
                f"{base}/api/v1/projects",
                json={"name": "quality", "labels_per_comparison": 3, "gold_rate": args.gold_rate},
                headers=headers,
            ).json()
            project_id = project["id"]
            imported = httpx.post(
                f"{base}/api/v1/projects/{project_id}/import?format=pairs",
                content=pairs,
                headers=headers,
                timeout=300,
            )
            imported.raise_for_status()
            print(f"imported {imported.json()} into project {project_id}", flush=True)
            raters = build_raters(parse_spec(args.raters), args.seed)
            annotators = []
            with Session(engine) as session, session.begin():
                for number, rater in enumerate(raters):
                    name = new_username("bench", rater.kind, number)
                    user = user_queries.create_user(session, name, Role.annotator, None)
                    _, plain = user_queries.create_token(session, user, "bench")
                    annotators.append(SimulatedAnnotator(rater, name, user.id, plain))

            def check() -> dict[int, tuple[str, int]]:
                with sessions() as session, session.begin():
                    recompute(session, project_id)
                    _, rows = annotator_table(session, project_id)
                return {r["user_id"]: (r["status"], r["labels"]) for r in rows}

            run = Run(
                base_url=base,
                project_id=project_id,
                annotators=annotators,
                truth=FileTruth.read(truth_file),
                budget=args.labels,
                concurrency=args.concurrency,
                check_every=args.check_every,
                check=check,
            )
            started = time.perf_counter()
            asyncio.run(simulate(run))
            seconds = time.perf_counter() - started
            result = summary(run)
            report_flags(result, seconds, out)
            exports = {
                "default": {"schema": "trl"},
                "include_flagged": {"schema": "trl", "include_flagged": "true"},
                "honest_only": {
                    "schema": "trl",
                    "include_flagged": "true",
                    "annotator": [
                        r["username"] for r in result["annotators"] if r["kind"] == "honest"
                    ],
                },
            }
            rows_by_export = {}
            out["exports"] = {}
            for name, params in exports.items():
                answer = httpx.get(
                    f"{base}/api/v1/projects/{project_id}/export",
                    params=params,
                    headers=headers,
                    timeout=300,
                )
                answer.raise_for_status()
                rows = [orjson.loads(line) for line in answer.content.splitlines()]
                rows_by_export[name] = rows
                out["exports"][name] = export_accuracy(rows, rate, answer.headers)
                print(f"export {name}: {out['exports'][name]}", flush=True)
        engine.dispose()
    if args.reward:
        out["reward_models"] = {
            name: train_and_evaluate(rows, evaluation, args, work / name)
            for name, rows in rows_by_export.items()
        }


def report_flags(result: dict[str, Any], seconds: float, out: dict[str, Any]) -> None:
    rows = result["annotators"]
    bad = [r for r in rows if r["kind"] != "honest"]
    honest = [r for r in rows if r["kind"] == "honest"]
    caught = [r for r in bad if r["status"] in ("flagged", "suspended")]
    honest_flagged = [r for r in honest if r["status"] in ("flagged", "suspended")]
    ever = [r["flagged_at_labels"] for r in bad if r["flagged_at_labels"] is not None]
    out["simulation"] = {
        "labels": result["labels"],
        "seconds": round(seconds, 1),
        "non_honest_flagged": f"{len(caught)} of {len(bad)}",
        "honest_flagged": f"{len(honest_flagged)} of {len(honest)}",
        "honest_ever_flagged": sum(1 for r in honest if r["flagged_at_labels"] is not None),
        "median_labels_before_flagged": statistics.median(ever) if ever else None,
        "annotators": rows,
    }
    print(f"{'annotator':<34} {'kind':<14} {'labels':>6} {'acc':>6}  status    flagged after")
    for r in sorted(rows, key=lambda r: (r["kind"] == "honest", r["kind"], r["username"])):
        acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.2f}"
        print(
            f"{r['username']:<34} {r['kind']:<14} {r['labels']:>6} {acc:>6}  {r['status']:<9}"
            f" {r['flagged_at_labels'] if r['flagged_at_labels'] is not None else '-'}"
        )
    summary_keys = ("labels", "seconds", "non_honest_flagged", "honest_flagged")
    print({k: out["simulation"][k] for k in (*summary_keys, "median_labels_before_flagged")})


def export_accuracy(rows: list[dict[str, Any]], rate: list[Any], headers: Any) -> dict[str, Any]:
    """Share of trl rows whose chosen response is the one the HH annotator chose."""
    from app.content import messages_hash, pair_hash, text_hash

    chosen_text = {}
    for e in rate:
        key = pair_hash(messages_hash(e.prompt), text_hash(e.response_a), text_hash(e.response_b))
        chosen_text[key] = e.response_b if e.choice == "better" else e.response_a
    right = 0
    for row in rows:
        chosen, rejected = row["chosen"][0]["content"], row["rejected"][0]["content"]
        key = pair_hash(messages_hash(row["prompt"]), text_hash(chosen), text_hash(rejected))
        right += chosen_text.get(key) == chosen
    left_out = {k: v for k, v in headers.items() if k.lower().startswith("x-left-out")}
    return {
        "rows": len(rows),
        "accuracy": round(right / len(rows), 4) if rows else None,
        "left_out": left_out,
    }


def train_and_evaluate(
    rows: list[dict[str, Any]], evaluation: list[Any], args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    from trainer.context import NullContext
    from trainer.default_models import DEFAULT_REWARD, reward_base_path
    from trainer.reward.data import PreferenceExample
    from trainer.reward.evaluate import evaluate_preferences
    from trainer.reward.train import RewardConfig, train_reward_model

    train = [
        PreferenceExample(
            row["prompt"],
            row["rejected"][0]["content"],
            row["chosen"][0]["content"],
            "better",
            group=i,
        )
        for i, row in enumerate(rows)
    ]
    if args.reward_limit:
        train = random.Random(0).sample(train, min(args.reward_limit, len(train)))
    held_out = evaluation[: args.eval_limit] if args.eval_limit else evaluation
    config = RewardConfig(
        epochs=1,
        max_length=args.max_length,
        val_fraction=0.0,
        checkpoint_every=10**9,
        log_every=10**9,
    )
    started = time.perf_counter()
    train_reward_model(
        train, reward_base_path(DEFAULT_REWARD), config, NullContext(work / "ckpt"), work / "model"
    )
    metrics = evaluate_preferences(work / "model", held_out, max_length=args.max_length)
    result = {
        "train_pairs": len(train),
        "held_out": int(metrics["n"]),
        "accuracy": round(float(metrics["accuracy"]), 4),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(f"reward model on {work.name}: {result}", flush=True)
    return result


# ---------------------------------------------------------------- throughput


def run_throughput(args: argparse.Namespace, out: dict[str, Any]) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-quality-tp-"))
    with fresh_database() as url:
        migrated(url, work).dispose()
        project_id, tokens = seed(url, args.comparisons, args.annotators)
        with psycopg.connect(url, autocommit=True) as conn:
            # 5 % of the pairs are gold: the normal pick skips them in both settings.
            conn.execute(
                "UPDATE comparisons SET gold_choice = 'better' WHERE id %% 20 = 0 AND project_id = %s",
                (project_id,),
            )
            conn.execute("VACUUM ANALYZE comparisons")
        results: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
        with server(url, args.workers, work, START_TIMEOUT) as (server_pid, port):
            for repeat in range(args.repeats):
                for setting, gold_rate in (("off", 0.0), ("on", args.gold_rate)):
                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute(
                            "UPDATE projects SET gold_rate = %s WHERE id = %s",
                            (gold_rate, project_id),
                        )
                    tally, cpu = asyncio.run(
                        drive(
                            server_pid,
                            port,
                            tokens,
                            project_id,
                            args.seconds,
                            2.0,
                            database_name(url),
                        )
                    )
                    labels = len(tally.latencies["label"])
                    figures = {
                        "labels_per_s": labels / args.seconds,
                        "next_p50_ms": 1000 * percentile(tally.latencies["next"], 0.5),
                        "label_p50_ms": 1000 * percentile(tally.latencies["label"], 0.5),
                        "server_cpu_s_per_1000_labels": 1000 * cpu.server / max(labels, 1),
                        "db_cpu_s_per_1000_labels": 1000 * cpu.database / max(labels, 1),
                        "errors": sum(tally.errors.values()),
                    }
                    results[setting].append(figures)
                    print(f"run {repeat + 1} gold {setting}: {figures}", flush=True)
        with psycopg.connect(url) as conn:
            served = conn.execute(
                "SELECT count(*) FILTER (WHERE c.gold_choice IS NOT NULL), count(*)"
                " FROM labels l JOIN comparisons c ON c.id = l.comparison_id"
            ).fetchone()
    mean = {
        setting: {
            k: round(statistics.mean(r[k] for r in runs), 3) for k in runs[0] if k != "errors"
        }
        for setting, runs in results.items()
    }
    slower = 1 - mean["on"]["labels_per_s"] / mean["off"]["labels_per_s"]
    out["throughput"] = {
        "runs": results,
        "mean": mean,
        "gold_on_slower_by": f"{100 * slower:.1f} %",
        "gold_labels_of_all": served,
    }
    print(out["throughput"]["mean"], "gold on slower by", out["throughput"]["gold_on_slower_by"])


# ---------------------------------------------------------------- recompute at 1M


def seed_million(url: str, labels: int, annotators: int) -> int:
    pairs = labels // 3 + 1
    with psycopg.connect(url, autocommit=False) as conn:
        project_id = conn.execute(
            "INSERT INTO projects (name, guidelines, labels_per_comparison, generation_settings,"
            " training_settings, gold_rate, quality_thresholds, created_at)"
            " VALUES ('million', '', 3, '{}', '{}', 0.05, '{}', now()) RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            "INSERT INTO users (id, username, role, is_active, failed_logins, created_at)"
            " SELECT 100000 + g, 'm' || g, 'annotator', true, 0, now()"
            " FROM generate_series(1, %s) g",
            (annotators,),
        )
        conn.execute(
            "INSERT INTO prompts (id, project_id, messages, content_hash, source, created_at)"
            ' SELECT g, %s, \'[{"role": "user", "content": "q"}]\', md5(\'p\' || g), \'bench\','
            " now() FROM generate_series(1, %s) g",
            (project_id, pairs),
        )
        conn.execute(
            "INSERT INTO responses (id, prompt_id, text, content_hash, source, created_at)"
            " SELECT 2 * g - 2 + s, g, 'answer ' || s, md5(s || ':' || g), 'bench', now()"
            " FROM generate_series(1, %s) g, generate_series(1, 2) s",
            (pairs,),
        )
        # Truth: Better or Worse by a hash of the pair; 5 % of pairs gold.
        truth = "(get_byte(decode(md5(g::text), 'hex'), 0) & 1) = 0"
        conn.execute(
            "INSERT INTO comparisons (id, project_id, prompt_id, response_a_id, response_b_id,"
            " pair_hash, priority, source, label_count, gold_choice, created_at)"
            " SELECT g, %s, g, 2 * g - 1, 2 * g, md5('c' || g), 0, 'bench', 3,"
            f" CASE WHEN g %% 20 = 0 THEN (CASE WHEN {truth} THEN 'better' ELSE 'worse' END)"
            " END, now() FROM generate_series(1, %s) g",
            (project_id, pairs),
        )
        # Three labels per pair from three different annotators; the first 10 % of the
        # annotators answer at random, the rest are right 75 % of the time.
        conn.execute(
            "INSERT INTO labels (comparison_id, annotator_id, source, choice, feedback,"
            " flag_harmful, flag_untrue, flag_unhelpful, shown_swapped, time_spent_ms,"
            " idempotency_key, created_at)"
            " SELECT g, 100000 + 1 + (g * 7 + k * 97) %% %s, 'human',"
            " CASE WHEN (g * 7 + k * 97) %% %s < %s * 0.1 THEN"
            "   (CASE WHEN random() < 0.5 THEN 'better' ELSE 'worse' END)"
            f" WHEN random() < 0.75 THEN (CASE WHEN {truth} THEN 'better' ELSE 'worse' END)"
            f" ELSE (CASE WHEN {truth} THEN 'worse' ELSE 'better' END) END,"
            " '', false, false, false, random() < 0.5, (5000 + random() * 20000)::int,"
            " 'm' || g || ':' || k, now() - (random() * interval '30 days')"
            " FROM generate_series(1, %s) g, generate_series(0, 2) k",
            (annotators, annotators, annotators, pairs),
        )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return int(project_id)


def run_recompute(args: argparse.Namespace, out: dict[str, Any]) -> None:
    from sqlalchemy.orm import Session

    from app.quality.recompute import recompute

    work = Path(tempfile.mkdtemp(prefix="bench-quality-1m-"))
    with fresh_database() as url:
        engine = migrated(url, work)
        token = admin_token(url)
        started = time.perf_counter()
        project_id = seed_million(url, args.million, 300)
        print(f"seeded {args.million} labels in {time.perf_counter() - started:.0f} s", flush=True)
        timings = []
        for _ in range(args.recompute_repeats):
            started = time.perf_counter()
            with Session(engine) as session, session.begin():
                body = recompute(session, project_id)
            timings.append(time.perf_counter() - started)
            print(f"recompute: {timings[-1]:.1f} s", flush=True)
        flagged = sum(1 for a in body["annotators"] if a["computed_status"] == "flagged")
        latencies = []
        with (
            server(url, 1, work, START_TIMEOUT) as (_, port),
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
        ):
            headers = {"Authorization": f"Bearer {token}"}
            client.get(f"/api/v1/projects/{project_id}/annotators", headers=headers)
            for _ in range(args.endpoint_requests):
                started = time.perf_counter()
                answer = client.get(f"/api/v1/projects/{project_id}/annotators", headers=headers)
                latencies.append(time.perf_counter() - started)
                answer.raise_for_status()
            annotators = len(answer.json())
        engine.dispose()
    out["recompute"] = {
        "labels": args.million,
        "seconds": [round(t, 1) for t in timings],
        "annotators": annotators,
        "flagged (30 random of 300)": flagged,
        "endpoint_p50_ms": round(1000 * percentile(latencies, 0.5), 1),
        "endpoint_max_ms": round(1000 * max(latencies), 1),
    }
    print(out["recompute"], flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="simulate,throughput,recompute")
    parser.add_argument("--raters", default=SPEC)
    parser.add_argument("--labels", type=int, default=4000)
    parser.add_argument("--pool", type=int, default=1500, help="HH pairs to rate")
    parser.add_argument("--gold", type=int, default=100, help="HH pairs made gold")
    parser.add_argument("--held-out", type=int, default=600)
    parser.add_argument("--gold-rate", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--check-every", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reward", action="store_true", help="train the three reward models")
    parser.add_argument("--reward-limit", type=int, default=0, help="train pairs (0: all)")
    parser.add_argument("--eval-limit", type=int, default=0, help="held-out pairs (0: all)")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--annotators", type=int, default=64)
    parser.add_argument("--comparisons", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--recompute-repeats", type=int, default=2)
    parser.add_argument("--endpoint-requests", type=int, default=50)
    parser.add_argument("-o", "--output", help="also write the figures as JSON here")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    out: dict[str, Any] = {"load_before": os.getloadavg()}
    if "simulate" in parts:
        run_simulation(args, out)
    if "throughput" in parts:
        run_throughput(args, out)
    if "recompute" in parts:
        run_recompute(args, out)
    out["load_after"] = os.getloadavg()
    if args.output:
        Path(args.output).write_text(json.dumps(out, indent=2, default=str))
    print(json.dumps({k: v for k, v in out.items() if k != "simulation"}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
