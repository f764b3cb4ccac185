"""Reward model benchmark: our trainer against Hugging Face TRL's RewardTrainer on HH-RLHF.

    .venv/bin/python bench/reward.py                       # full run (slow on 2 cores)
    .venv/bin/python bench/reward.py --train-limit 400 --eval-limit 200   # quick run
    .venv/bin/python bench/reward.py --skip-trl --length-head-coef 0 --reward-heads 1 \
        --no-length-balance                                # our side, plain recipe

Train: hh-helpful-base lines 1-2,000 + harmless-base lines 1-1,500; eval: the rest (records
the importer skips are left out). Default reward model and our default recipe
(``RewardConfig``), the same epochs, max length, batch size, learning rate, warm-up and thread
count on both sides. Each side
runs in its own subprocess (TRL's in a separate virtual environment, created when missing),
so peak RSS is per side. Both sides get the same tokens: TRL receives the ids our encoder
makes (prompt truncated from the left, whole response), so only the training loops differ.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = Path("/work/shared/data")
TRL_VENV = REPO / ".bench-venv-trl"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """This process's CPU time: less swayed than wall time by other work on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- data (runs in our venv) -------------------------------------------------------------


HARMLESS_GROUPS = 10_000  # harmless examples' groups are 10,000 + their line number


def build_splits(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    """HH records parsed by the importer's own parser (records it skips are left out), split
    by line number: helpful lines 1-2,000 and harmless 1-1,500 train, the rest evaluate."""
    sys.path.insert(0, str(REPO))
    from trainer.jobs.preference_files import read_preference_file
    from trainer.reward.data import randomise_sides

    helpful_file = read_preference_file(DATA / "hh-helpful-base-2354.jsonl.gz", "hh")
    harmless_file = read_preference_file(DATA / "hh-harmless-base-1800.jsonl.gz", "hh")
    helpful = randomise_sides(helpful_file.examples, seed=1)
    harmless = randomise_sides(harmless_file.examples, seed=2, group_offset=HARMLESS_GROUPS)
    train = [e for e in helpful if e.group <= 2000] + [
        e for e in harmless if e.group <= HARMLESS_GROUPS + 1500
    ]
    evaluation = [e for e in helpful if e.group > 2000] + [
        e for e in harmless if e.group > HARMLESS_GROUPS + 1500
    ]
    # Limits take a seeded sample so a quick run still mixes helpful and harmless.
    if args.train_limit:
        train = random.Random(0).sample(train, min(args.train_limit, len(train)))
    if args.eval_limit:
        evaluation = random.Random(1).sample(evaluation, min(args.eval_limit, len(evaluation)))
    return train, evaluation


def subset_names(examples: list[Any]) -> list[str]:
    return ["harmless" if e.group > HARMLESS_GROUPS else "helpful" for e in examples]


def breakdown_of_margins(args: argparse.Namespace, margins: list[float]) -> dict[str, float]:
    """The breakdown of ``trainer/reward/breakdown.py`` for margins of the held-out pairs
    (chosen minus rejected, in evaluation order): for the TRL side, which imports nothing
    from this repository."""
    import torch

    from trainer.reward.breakdown import length_difference, preference_breakdown
    from trainer.reward.data import orient
    from trainer.reward.loss import preference_metrics

    _, evaluation = build_splits(args)
    pairs = [orient(e, use_margin=False) for e in evaluation]
    metrics = preference_metrics(torch.tensor(margins), torch.ones(len(margins)))
    return {
        "ece": metrics["ece"],
        **preference_breakdown(
            margins,
            [length_difference(p.first, p.second) for p in pairs],
            subset_names(evaluation),
        ),
    }


# --- our side ------------------------------------------------------------------------------


def run_ours(args: argparse.Namespace) -> dict[str, float]:
    import torch

    torch.set_num_threads(args.threads)
    from trainer.context import NullContext
    from trainer.default_models import DEFAULT_REWARD, reward_base_path
    from trainer.reward.evaluate import evaluate_preferences
    from trainer.reward.train import RewardConfig, train_reward_model

    train, evaluation = build_splits(args)
    config = RewardConfig(
        epochs=args.epochs,
        reward_heads=args.reward_heads,
        length_head_coef=args.length_head_coef,
        length_balance=args.length_balance,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        warmup_ratio=args.warmup_ratio,
        max_length=args.max_length,
        val_fraction=0.0,  # evaluated below on the fixed held-out set instead
        seed=args.seed,
        checkpoint_every=10**9,
        log_every=10**9,
    )
    work = Path(args.workdir)
    start, cpu_start = time.perf_counter(), cpu_seconds()
    train_reward_model(
        train, reward_base_path(DEFAULT_REWARD), config, NullContext(work / "ckpt"), work / "ours"
    )
    seconds = time.perf_counter() - start  # includes loading, tokenizing and saving
    cpu = cpu_seconds() - cpu_start
    metrics = evaluate_preferences(
        work / "ours", evaluation, max_length=args.max_length, subsets=subset_names(evaluation)
    )
    return {
        **metrics,
        "n_eval": metrics["n"],
        "n_train": float(len(train)),
        "train_seconds": seconds,
        "pairs_per_second": len(train) / seconds,
        "pairs_per_cpu_second": len(train) / cpu,
        "peak_rss_mib": peak_rss_mib(),
    }


def write_token_file(args: argparse.Namespace, path: Path) -> None:
    """The exact ids our encoder feeds the model, for TRL: chosen first."""
    from transformers import AutoTokenizer

    from trainer.default_models import DEFAULT_REWARD, reward_base_path
    from trainer.reward.batches import encode_examples
    from trainer.reward.text import PairEncoder

    train, evaluation = build_splits(args)
    encoder = PairEncoder(
        AutoTokenizer.from_pretrained(reward_base_path(DEFAULT_REWARD)), args.max_length
    )
    out: dict[str, Any] = {"model": reward_base_path(DEFAULT_REWARD)}
    for name, examples in (("train", train), ("eval", evaluation)):
        pairs = encode_examples(encoder, examples, use_margin=False)
        out[name] = [
            {"chosen_ids": a.input_ids, "rejected_ids": b.input_ids}
            for a, b, t in zip(pairs.first, pairs.second, pairs.target.tolist(), strict=True)
            if t == 1.0
        ]
    path.write_text(json.dumps(out))


# --- TRL side (runs in the TRL venv; imports nothing from this repository) ---------------


def run_trl(args: argparse.Namespace) -> dict[str, float]:
    import torch

    torch.set_num_threads(args.threads)
    import trl
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    data = json.loads(Path(args.tokens).read_text())
    tokenizer = AutoTokenizer.from_pretrained(data["model"])
    model = AutoModelForSequenceClassification.from_pretrained(data["model"], num_labels=1)
    torch.manual_seed(args.seed)
    config = RewardConfig(
        output_dir=str(Path(args.workdir) / "trl"),
        num_train_epochs=args.epochs,
        # TRL's fastest setting on this data: batches of similar lengths pad less
        # (transformers 5 names it a sampling strategy; 4.x had `group_by_length=True`).
        train_sampling_strategy="group_by_length" if args.trl_group_by_length else "random",
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_steps=args.warmup_ratio,  # a float below 1 is a share of all steps
        lr_scheduler_type="linear",
        max_length=args.max_length,
        # Same maths as ours: fp32, no recomputation (TRL defaults to bf16 + checkpointing).
        bf16=False,
        gradient_checkpointing=False,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        eval_strategy="no",
        logging_steps=10**6,
        seed=args.seed,
        disable_tqdm=True,
    )
    trainer = RewardTrainer(
        model=model,
        args=config,
        # transformers 5 groups by a precomputed length column: the longer of the two responses.
        train_dataset=Dataset.from_list(
            [
                {**p, "length": max(len(p["chosen_ids"]), len(p["rejected_ids"]))}
                for p in data["train"]
            ]
        ),
        processing_class=tokenizer,
    )
    start, cpu_start = time.perf_counter(), cpu_seconds()
    trainer.train()
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu_start

    model.eval()
    pairs = data["eval"]
    margins: list[float] = []
    with torch.inference_mode():
        for start_i in range(0, len(pairs), 32):
            chunk = pairs[start_i : start_i + 32]
            seqs = [p["chosen_ids"] for p in chunk] + [p["rejected_ids"] for p in chunk]
            width = max(map(len, seqs))
            ids = torch.tensor([s + [tokenizer.pad_token_id] * (width - len(s)) for s in seqs])
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])
            r = model(input_ids=ids, attention_mask=mask).logits[:, 0]
            margins += (r[: len(chunk)] - r[len(chunk) :]).tolist()
    return {
        "accuracy": sum(m > 0 for m in margins) / len(pairs),
        "margins": margins,
        "n_eval": float(len(pairs)),
        "n_train": float(len(data["train"])),
        "train_seconds": seconds,
        "pairs_per_second": len(data["train"]) / seconds,
        "pairs_per_cpu_second": len(data["train"]) / cpu,
        "peak_rss_mib": peak_rss_mib(),
        "trl_version": trl.__version__,
    }


# --- orchestration -----------------------------------------------------------------------


def ensure_trl_venv() -> Path:
    python = TRL_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(TRL_VENV)], check=True)
        # The torch pin keeps the CPU wheel; a bare "torch" would pull a multi-GB CUDA build.
        pip = [str(python), "-m", "pip", "install", "-q", "torch==2.13.0", "trl==1.16.0"]
        subprocess.run(pip, check=True)
    return python


def start_side(
    python: Path, name: str, args: argparse.Namespace, extra: list[str]
) -> subprocess.Popen[str]:
    cmd = [str(python), __file__, "--side", name, *passthrough(args), *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(args.threads)}
    # Files, not pipes: a side that fills a pipe nobody reads yet would stall.
    out = open(Path(args.workdir) / f"{name}.out", "w+")  # noqa: SIM115
    err = open(Path(args.workdir) / f"{name}.err", "w+")  # noqa: SIM115
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True, cwd=REPO)


def finish_side(name: str, process: subprocess.Popen[str], workdir: Path) -> dict[str, Any]:
    process.wait()
    stdout = (workdir / f"{name}.out").read_text()
    stderr = (workdir / f"{name}.err").read_text()
    if process.returncode != 0:
        raise SystemExit(f"{name} side failed:\n{stderr[-4000:]}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    shown = {k: v for k, v in result.items() if k != "margins"}
    print(f"{name}: {json.dumps(shown)}", flush=True)
    return result


def passthrough(args: argparse.Namespace) -> list[str]:
    keys = ["train_limit", "eval_limit", "max_length", "batch_size", "lr", "warmup_ratio"]
    keys += ["epochs", "reward_heads", "length_head_coef"]
    flags = [[f"--{k.replace('_', '-')}", str(getattr(args, k))] for k in keys]
    flags.append(["--length-balance" if args.length_balance else "--no-length-balance"])
    if args.trl_group_by_length:
        flags.append(["--trl-group-by-length"])
    flags += [["--threads", str(args.threads)], ["--seed", str(args.seed)]]
    return [x for pair in flags for x in pair] + ["--workdir", args.workdir]


RATIO_ROWS = {
    "accuracy",
    "pairs_per_second",
    "pairs_per_cpu_second",
    "train_seconds",
    "peak_rss_mib",
    "n_train",
    "n_eval",
}


def table(ours: dict[str, Any], theirs: dict[str, Any] | None) -> str:
    rows = [
        ("validation accuracy", "accuracy", "{:.4f}"),
        ("  on helpful pairs", "accuracy_helpful", "{:.4f}"),
        ("  on harmless pairs", "accuracy_harmless", "{:.4f}"),
        ("  where the shorter response was chosen", "accuracy_shorter_chosen", "{:.4f}"),
        ("length-only rule: all pairs", "length_rule_accuracy", "{:.4f}"),
        ("length-only rule: helpful", "length_rule_accuracy_helpful", "{:.4f}"),
        ("length-only rule: harmless", "length_rule_accuracy_harmless", "{:.4f}"),
        ("length-only rule: shorter chosen", "length_rule_accuracy_shorter_chosen", "{:.4f}"),
        ("score margin / length difference corr.", "margin_length_corr", "{:+.3f}"),
        ("calibration error (ECE)", "ece", "{:.4f}"),
        ("mean ensemble spread of a score", "uncertainty", "{:.4f}"),
        ("training pairs/s", "pairs_per_second", "{:.2f}"),
        ("training pairs per CPU-second", "pairs_per_cpu_second", "{:.3f}"),
        ("training seconds", "train_seconds", "{:.1f}"),
        ("peak RSS (MiB)", "peak_rss_mib", "{:.0f}"),
        ("training pairs", "n_train", "{:.0f}"),
        ("eval pairs", "n_eval", "{:.0f}"),
    ]
    trl_name = f"TRL {theirs['trl_version']}" if theirs else "TRL"
    lines = [f"| metric | ours | {trl_name} | ours / TRL |", "| --- | ---: | ---: | ---: |"]
    for label, key, fmt in rows:
        mine = fmt.format(ours[key])
        if theirs is None or key not in theirs:
            lines.append(f"| {label} | {mine} | - | - |")
            continue
        if key not in RATIO_ROWS:  # a difference of accuracies or correlations, not a ratio
            lines.append(f"| {label} | {mine} | {fmt.format(theirs[key])} | - |")
            continue
        ratio = ours[key] / theirs[key] if theirs[key] else float("nan")
        lines.append(f"| {label} | {mine} | {fmt.format(theirs[key])} | {ratio:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", choices=["ours", "trl"], help=argparse.SUPPRESS)
    parser.add_argument("--tokens", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default="")
    parser.add_argument("--train-limit", type=int, default=0, help="training pairs (0 = all)")
    parser.add_argument("--eval-limit", type=int, default=0, help="eval pairs (0 = all)")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=16)
    sys.path.insert(0, str(REPO))
    from trainer.reward.config import RewardConfig  # torch-free: the product's default recipe

    default = RewardConfig()
    parser.add_argument("--lr", type=float, default=default.learning_rate)
    parser.add_argument("--epochs", type=int, default=default.epochs, help="both sides")
    parser.add_argument(
        "--reward-heads", type=int, default=default.reward_heads, help="ours: ensemble heads"
    )
    parser.add_argument(
        "--length-head-coef",
        type=float,
        default=default.length_head_coef,
        help="ours: ODIN length head weight (0: none)",
    )
    parser.add_argument(
        "--length-balance",
        action=argparse.BooleanOptionalAction,
        default=default.length_balance,
        help="ours: length-balanced pair weights",
    )
    parser.add_argument(
        "--trl-group-by-length", action="store_true", help="TRL: group_by_length=True"
    )
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=2, help="torch threads, both sides")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-trl", action="store_true")
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="run both sides at once (each with --threads), so they share the same load",
    )
    args = parser.parse_args()

    if args.side == "ours":
        print(json.dumps(run_ours(args)))
        return
    if args.side == "trl":
        print(json.dumps(run_trl(args)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-reward-") as tmp:
        args.workdir = args.workdir or tmp
        print(f"settings: {json.dumps(vars(args))}", flush=True)
        work = Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
        theirs = None
        if args.skip_trl:
            ours = finish_side("ours", start_side(Path(sys.executable), "ours", args, []), work)
        else:
            tokens = Path(args.workdir) / "tokens.json"
            write_token_file(args, tokens)
            trl_python = ensure_trl_venv()
            trl_args = ["--tokens", str(tokens)]
            if args.parallel:
                mine = start_side(Path(sys.executable), "ours", args, [])
                trl = start_side(trl_python, "trl", args, trl_args)
                ours, theirs = finish_side("ours", mine, work), finish_side("trl", trl, work)
            else:
                ours = finish_side("ours", start_side(Path(sys.executable), "ours", args, []), work)
                theirs = finish_side("trl", start_side(trl_python, "trl", args, trl_args), work)
        if theirs is not None:
            theirs.update(breakdown_of_margins(args, theirs.pop("margins")))
        print(table(ours, theirs))


if __name__ == "__main__":
    main()
