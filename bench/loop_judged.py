"""The loop, judged: does one turn of RLHF make the policy better in a judge's eyes?

The set-up of Gao et al. (2022) for studying over-optimisation without people, on the shared
HH data and the default models:

1. The HH records are split in two halves at random (seeded). A *judge* reward model is
   trained on one half (a reward job in a project of its own); it stands in for the humans.
2. The other half goes into the loop's project, and an ``iterate`` job runs reward -> PPO ->
   generate: the *proxy* reward model learns from that half and PPO tunes the default
   policy against it, on the project's training prompts.
3. An ``evaluate`` job samples the base and the tuned policy on the project's held-out
   evaluation prompts (never used by PPO) and queues blind pairs; the proxy scores them.
4. A simulated rater labels every evaluation pair through the HTTP API by the judge's
   verdict (what ``rlhf simulate --judge`` does; see below).
5. The leaderboard gives the tuned policy's win rate against the base with its 95 %
   interval; beside it, the proxy's own verdict on the same pairs, and the KL.

    .venv/bin/python bench/loop_judged.py --workdir /tmp/loop [--records 0] [--ppo-steps 40]
        [--eval-prompts 256] [--threads 2]

``--smoke`` shrinks every step, and ``--policy-model DIR --reward-base DIR`` swap the default
models (tiny random ones, say), to check the plumbing in a minute (its numbers mean nothing).

Labelling: ``judge_labels`` below is what ``rlhf simulate PROJECT --judge REWARD_VERSION
--raters honest:1:1.0`` does against a running server (take the next pair, answer by the
judge, post the label), kept in-process here so that the benchmark needs no server.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("RLHF_SHARED_DATA", "/work/shared/data"))
HH_FILES = ("hh-harmless-base-1800.jsonl.gz", "hh-helpful-base-2354.jsonl.gz")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workdir", type=Path, required=True, help="database and models go here")
    p.add_argument("--records", type=int, default=0, help="HH records used (0: all 4,154)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--reward-epochs", type=int, default=1)
    p.add_argument("--reward-batch", type=int, default=16)
    p.add_argument("--ppo-steps", type=int, default=40)
    p.add_argument("--ppo-batch", type=int, default=8)
    p.add_argument("--new-tokens", type=int, default=24, help="PPO response length")
    p.add_argument("--prompt-tokens", type=int, default=64, help="prompts keep their last N")
    p.add_argument("--kl-coef", type=float, default=0.05)
    p.add_argument("--eval-prompts", type=int, default=256, help="held-out prompts evaluated")
    p.add_argument("--eval-new-tokens", type=int, default=48)
    p.add_argument("--policy-model", help="policy to start from (default: the default policy)")
    p.add_argument("--reward-base", help="reward models' base (default: the default)")
    p.add_argument("--smoke", action="store_true", help="a few steps of everything")
    return p.parse_args()


def split_records(records: int, seed: int, out: Path) -> tuple[Path, Path, int]:
    lines: list[bytes] = []
    for name in HH_FILES:
        with gzip.open(DATA / name, "rb") as f:
            lines += [line for line in f if line.strip()]
    random.Random(seed).shuffle(lines)
    if records:
        lines = lines[:records]
    judge, proxy = out / "judge-half.jsonl", out / "proxy-half.jsonl"
    judge.write_bytes(b"".join(lines[0::2]))
    proxy.write_bytes(b"".join(lines[1::2]))
    return judge, proxy, len(lines)


def run_one_job(
    settings: Any, engine: Any, project_id: int, kind: str, params: dict[str, Any]
) -> Any:
    """Queues a job and runs it (with its children) in this process; returns it finished."""
    from app.db import make_sessionmaker
    from app.models import Job
    from app.queries import jobs as job_queries
    from trainer.worker import run_worker

    sessions = make_sessionmaker(engine)
    with sessions() as session, session.begin():
        job_id = job_queries.enqueue_job(
            session, project_id=project_id, kind=kind, params=params, max_attempts=1
        ).id
    t0 = time.perf_counter()
    run_worker(settings, threading.Event(), once=True, engine=engine)
    with sessions() as session:
        job = session.get_one(Job, job_id)
        session.expunge(job)
    print(f"  {kind} job {job_id}: {job.status} in {time.perf_counter() - t0:.0f} s", flush=True)
    if job.status != "succeeded":
        raise SystemExit(f"{kind} job failed: {job.error}")
    return job


def judge_labels(
    client: Any, project_id: int, headers: dict[str, str], judge: Any, limit: int
) -> int:
    """Labels up to ``limit`` pairs of the project's queue, highest priority first (the
    evaluation pairs), by the judge's verdict; returns how many."""
    done = 0
    while done < limit:
        response = client.get(f"/api/v1/projects/{project_id}/next", headers=headers)
        if response.status_code == 204:
            break
        response.raise_for_status()
        pair = response.json()
        choice = judge.answer(
            pair["prompt"], pair["response_a"]["text"], pair["response_b"]["text"]
        )
        label = {
            "comparison_id": pair["comparison_id"],
            "idempotency_key": pair["idempotency_key"],
            "choice": choice.value,
        }
        client.post("/api/v1/labels", json=label, headers=headers).raise_for_status()
        done += 1
    return done


def main() -> None:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    if (work / "loop.db").exists():
        raise SystemExit(f"{work} holds an earlier run; give a fresh --workdir")

    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from app.config import Settings
    from app.db import make_sessionmaker
    from app.importing.parsers import ImportFormat
    from app.importing.pipeline import import_preferences
    from app.main import create_app
    from app.models import Comparison, ModelVersion, Role
    from app.queries import model_versions as version_queries
    from app.queries import projects as project_queries
    from app.queries.held_out import evaluation_prompts, training_prompts
    from app.queries.users import create_token, create_user
    from harness.databases import migrated_engine
    from trainer.judging import RewardJudge

    overrides: dict[str, Any] = {}
    reward_params: dict[str, Any] = {"epochs": args.reward_epochs, "batch_size": args.reward_batch}
    ppo: dict[str, Any] = {
        "total_steps": args.ppo_steps,
        "batch_size": args.ppo_batch,
        "num_mini_batches": 2,
        "response_length": args.new_tokens,
        "max_prompt_tokens": args.prompt_tokens,
        "kl_coef": args.kl_coef,
        "eval_prompts": 64,
    }
    evaluation: dict[str, Any] = {
        "max_prompts": args.eval_prompts,
        "max_new_tokens": args.eval_new_tokens,
        "max_prompt_tokens": args.prompt_tokens * 4,
        "temperature": 0.7,
    }
    if args.policy_model:
        overrides["policy_model"] = args.policy_model
    if args.reward_base:
        reward_params["base_model"] = args.reward_base
        reward_params["max_length"] = 128
    if args.smoke:
        ppo.update(total_steps=2, batch_size=4, response_length=8, eval_prompts=2, lora_r=4,
                   lora_alpha=8)  # fmt: skip
        evaluation.update(max_new_tokens=8, max_prompts=min(args.eval_prompts, 16))

    settings = Settings(
        database_url=f"sqlite:///{work / 'loop.db'}",
        data_dir=work,
        secret_key="loop-judged-secret-key-0123456789abcdefghij",
        job_lease_s=600,
        **overrides,
    )
    engine = migrated_engine(settings.resolved_database_url, work)
    sessions = make_sessionmaker(engine)
    started = time.perf_counter()
    judge_file, proxy_file, n_records = split_records(args.records, args.seed, work)
    print(
        f"HH records: {n_records}, halves of {n_records // 2} (judge) and {n_records - n_records // 2} (proxy)"
    )

    ids: dict[str, int] = {}
    for name, path in (("judge", judge_file), ("loop", proxy_file)):
        with sessions() as session, session.begin():
            project = project_queries.create_project(
                session, name=name, guidelines="", labels_per_comparison=1
            )
            with path.open("rb") as f:
                summary = import_preferences(session, project.id, f, ImportFormat.hh)
            ids[name] = project.id
        print(f"  project {name}: imported {summary.imported} labelled pairs")
    with sessions() as session:
        held, train = (len(f(session, ids["loop"])) for f in (evaluation_prompts, training_prompts))
    print(f"  loop prompts: {train} for training, {held} held out for evaluation")

    print("1. judge reward model on its half", flush=True)
    judge_job = run_one_job(settings, engine, ids["judge"], "reward", reward_params)
    print("2. iterate: proxy reward -> PPO -> generate", flush=True)
    iterate = {
        "reward": reward_params,
        "ppo": ppo,
        "generate": {"max_prompts": 8, "max_new_tokens": 16},
    }
    run_one_job(settings, engine, ids["loop"], "iterate", iterate)
    with sessions() as session:
        judge_version = version_queries.version_for_job(session, judge_job.id)
        project = project_queries.get_project(session, ids["loop"])
        assert judge_version is not None and project is not None
        tuned = session.get_one(ModelVersion, project.policy_version_id)
        proxy = session.get_one(ModelVersion, project.reward_version_id)
        base = session.get_one(ModelVersion, tuned.parent_id)
        judge_path = version_queries.resolve_path(settings.model_dir, judge_version.path)
        kl = {k: v for k, v in tuned.metrics.items() if "kl" in k}
        proxy_gain = tuned.metrics.get("eval/score_gain")
        judge_accuracy = judge_version.metrics.get("accuracy")
        proxy_accuracy = proxy.metrics.get("accuracy")

    print("3. evaluate base against tuned on held-out prompts", flush=True)
    evaluate = run_one_job(
        settings, engine, ids["loop"], "evaluate",
        {"policy_version_ids": [base.id, tuned.id], **evaluation},
    )  # fmt: skip
    pairs = int(evaluate.metrics["comparisons_created"])

    print("4. the judge labels the evaluation pairs through the API", flush=True)
    judge = RewardJudge(judge_path)
    with sessions() as session, session.begin():
        rater = create_user(session, "judge-rater", Role.annotator, None)
        admin = create_user(session, "loop-admin", Role.admin, None)
        _, rater_token = create_token(session, rater, "loop")
        _, admin_token = create_token(session, admin, "loop")
    with TestClient(create_app(settings)) as client:
        labelled = judge_labels(
            client, ids["loop"], {"Authorization": f"Bearer {rater_token}"}, judge, pairs
        )
        board = client.get(
            f"/api/v1/projects/{ids['loop']}/leaderboard",
            headers={"Authorization": f"Bearer {admin_token}"},
        ).json()
    with sessions() as session:
        not_evaluation = session.scalars(
            select(Comparison.id).where(
                Comparison.project_id == ids["loop"],
                Comparison.label_count > 0,
                Comparison.evaluation.is_(False),
                Comparison.source.not_like("import:%"),
            )
        ).all()
    assert not not_evaluation, "the judge labelled pairs that are not evaluation pairs"

    rows = {m["model_version_id"]: m for m in board["models"]}
    row = rows.get(tuned.id)
    print()
    print(f"judge (project judge, {judge_version.name}): held-out accuracy {judge_accuracy}")
    print(f"proxy (project loop, {proxy.name}): held-out accuracy {proxy_accuracy}")
    print(f"evaluation pairs: {pairs} (identical {evaluate.metrics.get('identical')}, "
          f"empty {evaluate.metrics.get('empty')}), labelled by the judge: {labelled}")  # fmt: skip
    if row is None:
        print("no battles: nothing to rate")
        return
    rate, low, high = (
        row[k] for k in ("win_rate_vs_base", "win_rate_vs_base_low", "win_rate_vs_base_high")
    )
    print(
        f"tuned {tuned.name} vs base {base.name}: judge win rate {rate:.3f} "
        f"(95 % interval {low:.3f}-{high:.3f}); wins {row['wins']}, losses {row['losses']}, "
        f"ties {row['ties']} of {row['battles']}"
    )
    verdicts = row.get("reward_model")
    if verdicts:
        print(
            f"proxy's own verdict on the same pairs: prefers tuned in {verdicts['win_rate']:.3f} "
            f"(agrees with the judge on {verdicts['agreement']:.3f}); overrates: {verdicts['overrates']}"
        )
    print(f"proxy score gain on PPO's own held-out prompts: {proxy_gain}")
    print("KL of tuned from base: " + json.dumps({k: round(v, 4) for k, v in kl.items()}))
    print(f"total {time.perf_counter() - started:.0f} s")
    engine.dispose()


if __name__ == "__main__":
    main()
