"""PPO for a language policy against a reward model: the loop that ties the phases together.

One step = rollout (sample, with log-probs, reference log-probs and values) -> score (reward
model on the decoded text) -> advantages (KL-penalised rewards, GAE, whitening) -> update
(clipped PPO epochs). Follows "The N+ Implementation Details of RLHF with PPO" (Huang et al.
2024); metric names follow TRL's PPO trainer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from safetensors.torch import save_file
from transformers import PreTrainedTokenizerBase

from trainer.context import JobContext, JobInterrupted
from trainer.policy import save_adapter, stop_token_ids
from trainer.ppo.advantages import Advantages, KLController, compute_advantages
from trainer.ppo.checkpoint import TrainState, load_checkpoint, save_checkpoint
from trainer.ppo.config import PPOConfig
from trainer.ppo.evaluate import evaluate_policies
from trainer.ppo.policy_value import (
    PolicyWithValueHead,
    build_policy_with_value_head,
    load_trainable_state,
    trainable_state,
)
from trainer.ppo.rollout import Rollout, rollout
from trainer.ppo.score import ScoreFn, penalise_unended, score_rollout
from trainer.ppo.update import ppo_update

__all__ = ["PPOConfig", "ScoreFn", "train_ppo"]

Prompts = Sequence[list[dict[str, str]]]


@dataclass
class PPORun:
    """What every part of a run needs, built once by ``start_run``."""

    accelerator: Accelerator
    model: torch.nn.Module  # prepared by Accelerate (maybe DDP-wrapped): train through this
    core: PolicyWithValueHead  # the same model unwrapped: generate and save through this
    optimizer: Any
    scheduler: torch.optim.lr_scheduler.LambdaLR
    tokenizer: PreTrainedTokenizerBase
    stops: list[int]
    score_fn: ScoreFn
    config: PPOConfig
    policy_path: str
    ctx: JobContext


def train_ppo(
    prompts: Prompts,
    policy_path: str,
    score_fn: ScoreFn,
    config: PPOConfig,
    ctx: JobContext,
    output_dir: Path,
) -> dict[str, float]:
    """Tunes the policy at ``policy_path``; writes a LoRA adapter over it into ``output_dir``.

    Returns the last step's metrics and the held-out evaluation of old vs new policy.
    Resumes from ``ctx.checkpoint_dir``; raises ``JobInterrupted`` after saving a checkpoint
    when ``ctx.should_stop()``.
    """
    run = start_run(policy_path, score_fn, config, ctx)
    train_prompts, eval_prompts = split_prompts(prompts, config)
    state = load_checkpoint(
        ctx.checkpoint_dir, run.core, run.optimizer, run.scheduler, config, policy_path
    ) or TrainState(beta=config.kl_coef)
    stopped_early = train_steps(run, train_prompts, state)
    if stopped_early and state.last_good is not None:
        load_trainable_state(run.core, state.last_good)
    results = dict(state.metrics)
    results["stopped_early"] = float(stopped_early)
    results["steps"] = float(state.step)
    results.update(evaluate_shard(run, eval_prompts))
    results["sync/param_spread"] = parameter_spread(run)
    if run.accelerator.is_main_process:
        save_outputs(run, output_dir)
    run.accelerator.wait_for_everyone()
    return results


def parameter_spread(run: PPORun) -> float:
    """How far the processes' trained weights are apart (max - min of a checksum): 0 when the
    gradient all-reduce kept them in step, as it must; anything else is a broken setup."""
    trained = [p.detach().double().sum() for p in run.core.parameters() if p.requires_grad]
    checksum = torch.stack(trained).sum().reshape(1).to(run.accelerator.device)
    every = run.accelerator.gather(checksum)
    return float(every.max() - every.min())


def start_run(policy_path: str, score_fn: ScoreFn, config: PPOConfig, ctx: JobContext) -> PPORun:
    accelerator = Accelerator()
    torch.manual_seed(config.seed + accelerator.process_index)
    model, tokenizer = build_policy_with_value_head(policy_path, config)
    params = [p for p in model.parameters() if p.requires_grad]
    # eps 1e-5 as in the original TensorFlow setup (Huang et al.); no weight decay on an adapter.
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, eps=1e-5, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config))
    # The scheduler stays unprepared: Accelerate's wrapper would step it once per process.
    prepared, optimizer = accelerator.prepare(model, optimizer)
    return PPORun(
        accelerator=accelerator,
        model=prepared,
        core=accelerator.unwrap_model(prepared),
        optimizer=optimizer,
        scheduler=scheduler,
        tokenizer=tokenizer,
        stops=stop_token_ids(model.policy, tokenizer),
        score_fn=score_fn,
        config=config,
        policy_path=policy_path,
        ctx=ctx,
    )


def train_steps(run: PPORun, prompts: Prompts, state: TrainState) -> bool:
    """PPO steps from ``state.step`` to the end; True when the KL budget stopped them early."""
    config, ctx = run.config, run.ctx
    kl_control = KLController(config, state.beta)
    while state.step < config.total_steps:
        if ctx.should_stop():
            checkpoint(run, state)
            raise JobInterrupted(f"PPO stopped after step {state.step}")
        batch_prompts = prompts_for_step(prompts, state.step, config, run.accelerator)
        metrics, samples = ppo_step(run, batch_prompts, kl_control, state)
        run.scheduler.step()
        state.step += 1
        state.beta = kl_control.beta
        state.metrics = metrics
        ctx.report(state.step, state.step / config.total_steps, metrics)
        if state.step % config.sample_every == 0 or state.step == 1:
            ctx.log_samples(state.step, samples)
        if metrics.get("stopped_early"):
            return True
        if state.step % config.checkpoint_every == 0 or state.step == config.total_steps:
            # The last one lets a crash during evaluation or saving resume straight to them.
            checkpoint(run, state)
    return False


def ppo_step(
    run: PPORun, prompts: Prompts, kl_control: KLController, state: TrainState
) -> tuple[dict[str, float], list[dict[str, str | float]]]:
    """One rollout, score, advantages and update round; (metrics, a few samples)."""
    config = run.config
    t0 = time.perf_counter()
    batch = rollout(run.core, run.tokenizer, prompts, config, run.stops)
    t1 = time.perf_counter()
    scores, texts = score_rollout(batch, prompts, run.tokenizer, run.stops, run.score_fn)
    t2 = time.perf_counter()
    penalised = penalise_unended(scores, batch.ended, config.missing_eos_penalty)
    adv = compute_advantages(batch, penalised, kl_control.beta, config)
    metrics = rollout_metrics(run.accelerator, batch, scores, adv, kl_control.beta)
    samples: list[dict[str, str | float]] = [
        {"prompt": p[-1]["content"] if p else "", "response": t, "score": float(s)}
        for p, t, s in list(zip(prompts, texts, scores.tolist(), strict=True))[:4]
    ]
    if config.kl_budget is not None and metrics["objective/kl"] > config.kl_budget:
        metrics["stopped_early"] = 1.0
        return metrics, samples
    state.last_good = trainable_state(run.core)
    metrics.update(ppo_update(run.accelerator, run.model, run.optimizer, batch, adv, config))
    kl_control.update(metrics["objective/kl"], config.batch_size * run.accelerator.num_processes)
    t3 = time.perf_counter()
    metrics["time/rollout_s"] = t1 - t0
    metrics["time/score_s"] = t2 - t1
    metrics["time/update_s"] = t3 - t2
    metrics["tokens/generated"] = float(batch.mask.sum().item())
    metrics["lr"] = float(run.optimizer.param_groups[0]["lr"])
    return metrics, samples


def rollout_metrics(
    accelerator: Accelerator,
    batch: Rollout,
    scores: torch.Tensor,
    adv: Advantages,
    beta: float,
) -> dict[str, float]:
    """Per-response means, averaged over processes; KL and entropy summed over tokens."""
    mask = batch.mask.float()
    non_score = (-beta * adv.kl).sum(dim=1)  # (B,)
    local = {
        "objective/scores": scores.mean(),
        "objective/kl": adv.kl.sum(dim=1).mean(),
        "objective/entropy": (-batch.logprobs * mask).sum(dim=1).mean(),
        "objective/non_score_reward": non_score.mean(),
        "objective/rlhf_reward": (adv.rewards * mask).sum(dim=1).mean(),
        "response/length": mask.sum(dim=1).mean(),
        "response/ended_frac": batch.ended.float().mean(),
    }
    stacked = accelerator.reduce(torch.stack(list(local.values())), reduction="mean")
    metrics = dict(zip(local, stacked.tolist(), strict=True))
    metrics["objective/beta"] = beta
    return metrics


def split_prompts(prompts: Prompts, config: PPOConfig) -> tuple[list[Any], list[Any]]:
    """(train, held-out): a seeded random config.eval_prompts, at most half of them."""
    if not prompts:
        raise ValueError("PPO needs prompts")
    order = torch.randperm(len(prompts), generator=torch.Generator().manual_seed(config.seed))
    n_eval = min(config.eval_prompts, len(prompts) // 2)
    held = [prompts[i] for i in order[:n_eval].tolist()]
    train = [prompts[i] for i in order[n_eval:].tolist()]
    return train, held


def prompts_for_step(
    prompts: Prompts, step: int, config: PPOConfig, accelerator: Accelerator
) -> list[Any]:
    """This process's batch for a step: a function of the step alone, so resuming repeats it.

    Epochs over the prompts are each shuffled with their own seed; batches may straddle two.
    """
    n = len(prompts)
    first = (step * accelerator.num_processes + accelerator.process_index) * config.batch_size
    orders: dict[int, list[int]] = {}
    picked = []
    for k in range(first, first + config.batch_size):
        epoch, pos = divmod(k, n)
        if epoch not in orders:
            gen = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
            orders[epoch] = torch.randperm(n, generator=gen).tolist()
        picked.append(prompts[orders[epoch][pos]])
    return picked


def lr_factor(step: int, config: PPOConfig) -> float:
    return 1.0 - step / config.total_steps if config.anneal_lr else 1.0


def checkpoint(run: PPORun, state: TrainState) -> None:
    run.accelerator.wait_for_everyone()
    if run.accelerator.is_main_process:
        save_checkpoint(
            run.ctx.checkpoint_dir, run.core, run.optimizer, run.scheduler, state, run.config,
            run.policy_path,
        )  # fmt: skip
    run.accelerator.wait_for_everyone()


def evaluate_shard(run: PPORun, prompts: Prompts) -> dict[str, float]:
    if not prompts:
        return {}
    # Every process must reach the reduce below, so tiny held-out sets are evaluated whole.
    world, rank = run.accelerator.num_processes, run.accelerator.process_index
    shard = list(prompts)[rank::world] if len(prompts) >= world else list(prompts)
    local = evaluate_policies(run.core, run.tokenizer, shard, run.score_fn, run.config, run.stops)
    values = run.accelerator.reduce(torch.tensor(list(local.values())), reduction="mean")
    metrics = dict(zip(local, values.tolist(), strict=True))
    metrics["eval/prompts"] = float(len(prompts))
    return metrics


def save_outputs(run: PPORun, output_dir: Path) -> None:
    """The adapter (what ``load_policy`` reads), plus the value head and config for the record."""
    save_adapter(run.core.policy, run.tokenizer, run.policy_path, output_dir)
    head = {k: v.detach().cpu().contiguous() for k, v in run.core.value_head.state_dict().items()}
    save_file(head, str(output_dir / "value_head.safetensors"))
    (output_dir / "ppo_config.json").write_text(json.dumps(run.config.to_dict(), indent=2))
