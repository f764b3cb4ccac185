"""PPO speed, memory and reward gain: our trainer vs TRL's PPOTrainer, same setting.

    .venv/bin/python bench/ppo.py [--steps 5] [--batch 8] [--new-tokens 32]

Both run the default policy (SmolLM2-135M-Instruct) against the default reward model
(all-MiniLM-L6-v2 with its scalar head, scored through ``RewardScorer`` in both) on HH prompts
(everything before the final "\\n\\nAssistant:" turn), each in its own process so that peak
memory (max RSS) is its own. TRL 1.12.0 runs from a separate virtual environment,
``.bench-venv-trl112`` (created on first use with ``pip install torch==2.13.0 trl==1.12.0``).

TRL's reward model must share the policy's tokenizer; ours is a cross-encoder over text, so
TRL's ``get_reward`` is wrapped to decode the response and call the same scorer: both sides
optimise the very same reward. TRL's pad token is set to ``<|endoftext|>`` because it finds
padding by comparing ids with the pad id, and SmolLM2's pad is its EOS (``<|im_end|>``),
which also closes every chat turn of the prompt.

This file imports only the standard library at top level: the same file is the TRL worker.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RLHF_SHARED_DATA", "/work/shared/data"))
TRL_VENV = ROOT / ".bench-venv-trl112"
OUT = ROOT / "bench" / "out"


# ---------------------------------------------------------------- shared settings


def hh_prompts(n: int) -> list[list[dict[str, str]]]:
    """The first n HH prompts: each transcript up to its final assistant turn, as messages."""
    import re

    turn = re.compile(r"\n\n(Human|Assistant):")
    roles = {"Human": "user", "Assistant": "assistant"}
    prompts = []
    for path in sorted(DATA.glob("hh-helpful-*.jsonl.gz")) + sorted(DATA.glob("hh-harm*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                text = json.loads(line)["chosen"]
                head = text[: text.rfind("\n\nAssistant:")]
                parts = turn.split(head)
                messages = [
                    {"role": roles[r], "content": c.strip()}
                    for r, c in zip(parts[1::2], parts[2::2], strict=True)
                ]
                if messages and messages[-1]["role"] == "user":
                    prompts.append(messages)
                if len(prompts) == n:
                    return prompts
    return prompts


# Both sides subtract it from the score of a response that did not end: what PPO maximises
# (besides the KL penalty) is this "objective", and the held-out figures report it too.
MISSING_EOS_PENALTY = 1.0


def held_out_eval(
    model: Any, policy_path: str, prompts: list[Any], scorer: Any, args: argparse.Namespace
) -> dict[str, float]:
    """Mean reward-model score, share ended and length of sampled responses on held-out prompts.

    The same code, seed and sampling settings (those of training) for both sides and for the
    policy before and after PPO, so the gain compares like with like.
    """
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(policy_path, padding_side="left", truncation_side="left")
    tok.pad_token = "<|endoftext|>"
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    scores, ended, lengths = [], [], []
    model.eval()
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(1234)
        for start in range(0, len(prompts), args.batch):
            chunk = prompts[start : start + args.batch]
            texts = [
                tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
                for m in chunk
            ]
            enc = tok(
                texts,
                add_special_tokens=False,
                padding=True,
                truncation=True,
                max_length=args.prompt_tokens,
                return_tensors="pt",
            )
            out = model.generate(
                **enc,
                max_new_tokens=args.new_tokens,
                do_sample=True,
                temperature=0.7,
                top_k=0,
                top_p=1.0,
                eos_token_id=eos,
                pad_token_id=tok.pad_token_id,
            )
            replies = []
            for row in out[:, enc["input_ids"].shape[1] :].tolist():
                cut = row.index(eos) + 1 if eos in row else len(row)
                ended.append(float(eos in row))
                lengths.append(float(cut))
                replies.append(tok.decode(row[:cut], skip_special_tokens=True).strip())
            scores.extend(scorer.score(chunk, replies).tolist())
    return {
        "score": statistics.mean(scores),
        "ended": statistics.mean(ended),
        "length": statistics.mean(lengths),
    }


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class GenerateTimer:
    """Wraps GenerationMixin.generate: wall and CPU seconds spent and tokens generated (up to
    EOS) per call."""

    def __init__(self, eos_id: int) -> None:
        from transformers.generation.utils import GenerationMixin

        self.eos_id = eos_id
        # (start, seconds, tokens, CPU seconds of the whole process)
        self.calls: list[tuple[float, float, int, float]] = []
        original = GenerationMixin.generate
        timer = self

        def timed(model: Any, *args: Any, **kwargs: Any) -> Any:
            start, cpu = time.perf_counter(), time.process_time()
            out = original(model, *args, **kwargs)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            seqs = out.sequences if hasattr(out, "sequences") else out
            width = kwargs["input_ids"].shape[1] if "input_ids" in kwargs else args[0].shape[1]
            timer.calls.append((start, seconds, timer.count(seqs[:, width:]), cpu))
            return out

        GenerationMixin.generate = timed  # type: ignore[method-assign]

    def count(self, responses: Any) -> int:
        is_eos = responses == self.eos_id
        ended = is_eos.any(dim=1)
        lengths = is_eos.int().argmax(dim=1) + 1
        return int(
            sum(int(n) if e else responses.shape[1] for n, e in zip(lengths, ended, strict=True))
        )


# ---------------------------------------------------------------- our trainer


def run_ours(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from trainer.context import NullContext
    from trainer.policy import load_policy
    from trainer.ppo.config import PPOConfig
    from trainer.ppo.train import train_ppo
    from trainer.reward.scoring import RewardScorer

    torch.set_num_threads(args.threads)
    prompts = json.loads(Path(args.prompts).read_text())
    scorer = RewardScorer(args.reward)
    timer = GenerateTimer(eos_id=2)
    config = PPOConfig(
        total_steps=args.steps,
        batch_size=args.batch,
        num_mini_batches=args.mini_batches,
        ppo_epochs=args.ppo_epochs,
        response_length=args.new_tokens,
        max_prompt_tokens=args.prompt_tokens,
        missing_eos_penalty=MISSING_EOS_PENALTY,
        kl_budget=None,
        eval_prompts=0,
        checkpoint_every=10_000,
        sample_every=10_000,
    )

    class TimedContext(NullContext):
        def report(self, step: int, progress: float, metrics: dict[str, float]) -> None:
            metrics = dict(metrics, cpu_end=time.process_time())
            super().report(step, progress, metrics)

    held_out = json.loads(Path(args.held_out).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        ctx = TimedContext(Path(tmp) / "ckpt")
        train_ppo(prompts, args.policy, scorer.score, config, ctx, Path(tmp) / "out")
        n_calls = len(timer.calls)
        evaluation = {}
        for name, path in (("old", args.policy), ("new", str(Path(tmp) / "out"))):
            model, _ = load_policy(path)
            evaluation[name] = held_out_eval(model, args.policy, held_out, scorer, args)
            del model
        del timer.calls[n_calls:]
    steps = []
    for (_, _, m), gen in zip(ctx.reports, timer.calls, strict=True):
        steps.append(
            {
                "rollout_s": m["time/rollout_s"] + m["time/score_s"],
                "update_s": m["time/update_s"],
                "generate_s": gen[1],
                "generate_cpu_s": gen[3],
                "tokens": gen[2],
                "score": m["objective/scores"],
                "ended": m["response/ended_frac"],
                "kl": m["objective/kl"],
                "cpu_end": m["cpu_end"],
            }
        )
    return {"steps": steps, "peak_rss_mib": peak_rss_mib(), "held_out": evaluation}


# ---------------------------------------------------------------- TRL


def run_trl(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    import trl.experimental.ppo.ppo_trainer as ppo_mod
    from datasets import Dataset
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
        TrainerCallback,
    )
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    from trainer.reward.scoring import RewardScorer

    torch.set_num_threads(args.threads)
    prompts = json.loads(Path(args.prompts).read_text())
    tok = AutoTokenizer.from_pretrained(args.policy, padding_side="left")
    tok.pad_token = "<|endoftext|>"
    rows, by_ids = [], {}
    for messages in prompts:
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tok(text, add_special_tokens=False)["input_ids"][-args.prompt_tokens :]
        rows.append({"input_ids": ids})
        by_ids[tuple(ids)] = messages
    train = Dataset.from_list(rows)

    scorer = RewardScorer(args.reward)

    class TextReward(torch.nn.Module):
        """Stands where TRL expects a reward model; scoring happens on decoded text."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = scorer.model

    original_get_reward = ppo_mod.get_reward
    raw_scores: list[tuple[float, float]] = []  # (mean score, share ended) per rollout

    def get_reward(model: Any, query_responses: Any, pad_token_id: int, context_length: int) -> Any:
        if not isinstance(model, TextReward):
            return original_get_reward(model, query_responses, pad_token_id, context_length)
        convs, texts, ended = [], [], []
        for row in query_responses.cpu():
            query = [int(t) for t in row[:context_length] if int(t) != pad_token_id]
            convs.append(by_ids[tuple(query)])
            response = [int(t) for t in row[context_length:] if int(t) != pad_token_id]
            ended.append(tok.eos_token_id in response)
            texts.append(tok.decode(response, skip_special_tokens=True).strip())
        scores = scorer.score(convs, texts)
        # TRL logs scores after its missing-EOS penalty; keep the reward model's own view too.
        raw_scores.append((scores.mean().item(), sum(ended) / len(ended)))
        return None, scores.to(query_responses.device), None

    ppo_mod.get_reward = get_reward

    marks: dict[str, list[float]] = {"update_start": [], "step_end": [], "cpu_end": []}
    original_forward = ppo_mod.forward

    def forward(model: Any, query_responses: Any, pad_token_id: int) -> Any:
        if isinstance(model, ppo_mod.PolicyAndValueWrapper) and len(marks["update_start"]) == len(
            marks["step_end"]
        ):
            marks["update_start"].append(time.perf_counter())
        return original_forward(model, query_responses, pad_token_id)

    ppo_mod.forward = forward
    step_logs: list[dict[str, float]] = []

    class Marks(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, *a: Any, **k: Any) -> None:
            marks["step_end"].append(time.perf_counter())
            marks["cpu_end"].append(time.process_time())

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **k: Any) -> None:
            if logs and "objective/scores" in logs:
                step_logs.append(dict(logs))

    timer = GenerateTimer(eos_id=tok.eos_token_id)
    policy = AutoModelForCausalLM.from_pretrained(args.policy, dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(args.policy, dtype=torch.float32)
    value = AutoModelForSequenceClassification.from_pretrained(
        args.policy, num_labels=1, dtype=torch.float32
    )
    for m in (policy, ref, value):
        m.config.pad_token_id = tok.pad_token_id
    with tempfile.TemporaryDirectory() as tmp:
        config = PPOConfig(
            output_dir=tmp,
            per_device_train_batch_size=args.batch,
            gradient_accumulation_steps=1,
            num_mini_batches=args.mini_batches,
            num_ppo_epochs=args.ppo_epochs,
            total_episodes=args.steps * args.batch,
            response_length=args.new_tokens,
            stop_token="eos",
            missing_eos_penalty=MISSING_EOS_PENALTY,
            num_sample_generations=0,
            gradient_checkpointing=args.trl_gradient_checkpointing,
            bf16=False,
            fp16=False,
            report_to="none",
            save_strategy="no",
            logging_steps=1,
            seed=0,
            disable_tqdm=True,
        )
        trainer = PPOTrainer(
            args=config,
            processing_class=tok,
            model=policy,
            ref_model=ref,
            reward_model=TextReward(),
            train_dataset=train,
            eval_dataset=train.select(range(2)),
            value_model=value,
            callbacks=[Marks()],
        )
        trainer.train()
        n_calls = len(timer.calls)
        held_out = json.loads(Path(args.held_out).read_text())
        trained = trainer.accelerator.unwrap_model(trainer.model).policy
        evaluation = {
            name: held_out_eval(model, args.policy, held_out, scorer, args)
            for name, model in (("old", ref), ("new", trained))
        }
        del timer.calls[n_calls:]
    starts = [c[0] for c in timer.calls]
    steps = []
    for i, end in enumerate(marks["step_end"]):
        upd = marks["update_start"][i]
        steps.append(
            {
                "rollout_s": upd - starts[i],
                "update_s": end - upd,
                "generate_s": timer.calls[i][1],
                "generate_cpu_s": timer.calls[i][3],
                "tokens": timer.calls[i][2],
                "score": raw_scores[i][0],
                "ended": raw_scores[i][1],
                "kl": step_logs[i]["objective/kl"],
                "cpu_end": marks["cpu_end"][i],
            }
        )
    return {"steps": steps, "peak_rss_mib": peak_rss_mib(), "held_out": evaluation}


# ---------------------------------------------------------------- orchestration


def summarise(result: dict[str, Any]) -> dict[str, float]:
    steps = result["steps"]
    warm = steps[1:] if len(steps) > 1 else steps  # the first step pays one-off warm-up
    step_s = [s["rollout_s"] + s["update_s"] for s in warm]
    # CPU seconds of the whole process per step: what a step costs, whatever else the shared
    # machine was running (wall-clock figures stretch under such contention).
    cpu = [b["cpu_end"] - a["cpu_end"] for a, b in itertools.pairwise(steps)]
    quarter = max(1, len(steps) // 4)
    old, new = result["held_out"]["old"], result["held_out"]["new"]
    return {
        "cpu_step_s": statistics.mean(cpu) if cpu else float("nan"),
        "step_s": statistics.mean(step_s),
        "rollout_s": statistics.mean(s["rollout_s"] for s in warm),
        "update_s": statistics.mean(s["update_s"] for s in warm),
        "tokens_per_s": sum(s["tokens"] for s in warm) / sum(s["generate_s"] for s in warm),
        "tokens_per_cpu_s": sum(s["tokens"] for s in warm) / sum(s["generate_cpu_s"] for s in warm),
        # Tokens over the whole rollout phase (sampling, reference pass, values, scoring).
        "rollout_tokens_per_s": sum(s["tokens"] for s in warm) / sum(s["rollout_s"] for s in warm),
        "peak_rss_mib": result["peak_rss_mib"],
        "score_first": steps[0]["score"],
        "score_last": steps[-1]["score"],
        # Quarter means: one rollout of a few prompts is too noisy to compare two steps.
        "score_gain": statistics.mean(s["score"] for s in steps[-quarter:])
        - statistics.mean(s["score"] for s in steps[:quarter]),
        "kl_last": steps[-1]["kl"],
        "held_old": result["held_out"]["old"]["score"],
        "held_new": result["held_out"]["new"]["score"],
        "held_gain": result["held_out"]["new"]["score"] - result["held_out"]["old"]["score"],
        "held_objective_gain": objective(new) - objective(old),
        "held_ended": result["held_out"]["new"]["ended"],
        "held_length": result["held_out"]["new"]["length"],
    }


def objective(evaluation: dict[str, float]) -> float:
    """Mean score less the missing-EOS penalty, as the PPO reward counts it."""
    return evaluation["score"] - MISSING_EOS_PENALTY * (1.0 - evaluation["ended"])


def ensure_trl_venv() -> Path:
    python = TRL_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(TRL_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "torch==2.13.0", "trl==1.12.0"]
        subprocess.run(pip, check=True)
    return python


def start_worker(python: Path, side: str, log: Path, extra: list[str]) -> subprocess.Popen[str]:
    cmd = [str(python), __file__, "--worker", side, *extra]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="false")
    # A file, not a pipe: with workers running side by side nobody reads a pipe until the end.
    out = log.open("w+")
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, cwd=ROOT)


def finish_worker(side: str, process: subprocess.Popen[str], log: Path) -> dict[str, Any]:
    process.wait()
    output = log.read_text()
    if process.returncode != 0:
        sys.stderr.write(output[-8000:])
        raise SystemExit(f"{side} worker failed")
    line = [ln for ln in output.splitlines() if ln.startswith("RESULT ")][-1]
    return dict(json.loads(line[len("RESULT ") :]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--mini-batches", type=int, default=2)
    parser.add_argument("--ppo-epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-trl", action="store_true")
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="run the sides at once (each with --threads), so they share the same load",
    )
    parser.add_argument(
        "--trl-no-gc", action="store_true", help="also run TRL without gradient checkpointing"
    )
    parser.add_argument("--worker", choices=["ours", "trl"])
    parser.add_argument("--policy")
    parser.add_argument("--reward")
    parser.add_argument("--prompts")
    parser.add_argument("--held-out")
    parser.add_argument(
        "--eval-prompts", type=int, default=64, help="held-out prompts scored before and after"
    )
    parser.add_argument(
        "--reward-model",
        help="reward model directory (e.g. one trained by bench/reward.py); default: untrained head",
    )
    parser.add_argument("--trl-gradient-checkpointing", type=int, default=1)
    args = parser.parse_args()

    if args.worker:
        run = run_ours if args.worker == "ours" else run_trl
        print("RESULT " + json.dumps(run(args)), flush=True)
        return

    from trainer.default_models import (
        DEFAULT_POLICY,
        DEFAULT_REWARD,
        ensure_policy,
        reward_base_path,
    )

    OUT.mkdir(parents=True, exist_ok=True)
    policy = ensure_policy(DEFAULT_POLICY, OUT / "models")
    prompts_file = OUT / "ppo_prompts.json"
    train_count = args.steps * args.batch
    every = hh_prompts(train_count + args.eval_prompts)
    prompts_file.write_text(json.dumps(every[:train_count]))
    held_out_file = OUT / "ppo_held_out.json"
    held_out_file.write_text(json.dumps(every[train_count:]))
    reward = args.reward_model or reward_base_path(DEFAULT_REWARD)
    common = [
        "--policy", policy, "--reward", reward, "--held-out", str(held_out_file),
        "--prompts", str(prompts_file), "--steps", str(args.steps), "--batch", str(args.batch),
        "--new-tokens", str(args.new_tokens), "--prompt-tokens", str(args.prompt_tokens),
        "--mini-batches", str(args.mini_batches), "--ppo-epochs", str(args.ppo_epochs),
        "--threads", str(args.threads), "--eval-prompts", str(args.eval_prompts),
    ]  # fmt: skip
    print(
        f"setting: {args.steps} PPO steps, batch {args.batch}, {args.new_tokens} new tokens, "
        f"prompts <= {args.prompt_tokens} tokens, {args.ppo_epochs} epochs x {args.mini_batches} "
        f"mini-batches, {args.threads} thread(s); times are means over steps 2..{args.steps}; "
        f"reward model {reward}; {args.eval_prompts} held-out prompts",
        flush=True,
    )
    runs = [("ours (LoRA + value head)", Path(sys.executable), "ours", common)]
    if not args.skip_trl:
        trl_python = ensure_trl_venv()
        runs.append(("TRL 1.12 PPOTrainer", trl_python, "trl", common))
        if args.trl_no_gc:
            no_gc = [*common, "--trl-gradient-checkpointing", "0"]
            runs.append(("TRL 1.12, no grad ckpt", trl_python, "trl", no_gc))
    results = {}
    logs = [OUT / f"ppo_worker_{i}.log" for i in range(len(runs))]
    started = []
    if args.parallel:
        for (_, python, side, extra), log in zip(runs, logs, strict=True):
            started.append(start_worker(python, side, log, extra))
    for i, (name, python, side, extra) in enumerate(runs):
        process = started[i] if args.parallel else start_worker(python, side, logs[i], extra)
        raw = finish_worker(side, process, logs[i])
        results[name] = summarise(raw)
        print(f"{name}: {json.dumps(raw)}", flush=True)
    (OUT / "ppo_results.json").write_text(json.dumps(results, indent=2))
    print_table(results)


def print_table(results: dict[str, dict[str, float]]) -> None:
    cols = [
        ("CPU s/step", "cpu_step_s", "{:.2f}"), ("s/step", "step_s", "{:.2f}"), ("rollout s", "rollout_s", "{:.2f}"),
        ("update s", "update_s", "{:.2f}"), ("gen tok/s", "tokens_per_s", "{:.1f}"),
        ("gen tok/CPUs", "tokens_per_cpu_s", "{:.1f}"),
        ("roll tok/s", "rollout_tokens_per_s", "{:.1f}"),
        ("peak MiB", "peak_rss_mib", "{:.0f}"), ("score 1st", "score_first", "{:+.3f}"),
        ("score last", "score_last", "{:+.3f}"), ("train gain", "score_gain", "{:+.3f}"),
        ("KL last", "kl_last", "{:.3f}"), ("held old", "held_old", "{:+.3f}"),
        ("held new", "held_new", "{:+.3f}"), ("held gain", "held_gain", "{:+.3f}"),
        ("obj gain", "held_objective_gain", "{:+.3f}"),
        ("new ended", "held_ended", "{:.2f}"), ("new len", "held_length", "{:.1f}"),
    ]  # fmt: skip
    name_w = max(len(n) for n in results) + 2
    print("".join(["run".ljust(name_w), *(c[0].rjust(13) for c in cols)]))
    for name, r in results.items():
        print(
            "".join([name.ljust(name_w), *(fmt.format(r[key]).rjust(13) for _, key, fmt in cols)])
        )
    ours = results.get("ours (LoRA + value head)")
    for name, r in results.items():
        if ours is None or r is ours:
            continue
        print(
            f"ours vs {name}: {r['cpu_step_s'] / ours['cpu_step_s']:.2f}x steps per CPU second, "
            f"{r['step_s'] / ours['step_s']:.2f}x steps/s (wall), "
            f"{ours['peak_rss_mib'] / r['peak_rss_mib']:.2f}x peak memory, "
            f"{ours['tokens_per_s'] / r['tokens_per_s']:.2f}x generation tokens/s "
            f"({ours['tokens_per_s']:.1f} vs {r['tokens_per_s']:.1f}), "
            f"{ours['tokens_per_cpu_s'] / r['tokens_per_cpu_s']:.2f}x generation tokens per "
            f"CPU second ({ours['tokens_per_cpu_s']:.1f} vs {r['tokens_per_cpu_s']:.1f}), "
            f"{ours['rollout_tokens_per_s'] / r['rollout_tokens_per_s']:.2f}x rollout tokens/s, "
            f"reward gain on held-out prompts {ours['held_gain']:+.3f} vs {r['held_gain']:+.3f} "
            f"(with the missing-EOS penalty {ours['held_objective_gain']:+.3f} vs "
            f"{r['held_objective_gain']:+.3f}; last quarter of training steps against the first "
            f"{ours['score_gain']:+.3f} vs {r['score_gain']:+.3f})"
        )


if __name__ == "__main__":
    main()
