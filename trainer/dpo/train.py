"""DPO training under Hugging Face Accelerate: one CPU, one GPU or several processes.

A LoRA adapter is trained on the policy; the policy with the adapter off is the reference,
so no second copy of the weights is held. The reference log-probs of every pair are computed
once, before the first step, and kept (in the checkpoint too). A global batch of
``batch_size`` pairs, drawn length-grouped, is split between processes and, under the token
cap, into micro-batches; each share's loss is scaled so that DDP's gradient average equals
the mean over the whole global batch, so results do not depend on the process count.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from transformers import PreTrainedTokenizerBase, get_linear_schedule_with_warmup

from trainer.context import JobContext, JobInterrupted
from trainer.dpo.checkpoint import TrainState, load_checkpoint, save_checkpoint
from trainer.dpo.config import DPOConfig
from trainer.dpo.data import EncodedPair, data_fingerprint, encode_pairs, strict_preferences
from trainer.dpo.evaluate import evaluate_pairs
from trainer.dpo.loss import METRICS, pair_metric_sums
from trainer.dpo.scoring import pair_terms, reference_logps
from trainer.policy import lora_policy, save_adapter
from trainer.reward.batches import length_grouped_batches, micro_batches, shard
from trainer.reward.data import PreferenceExample, split_by_group
from trainer.reward.train import stop_requested

__all__ = ["DPOConfig", "train_dpo"]

log = logging.getLogger(__name__)


@dataclass
class DPORun:
    """What every phase of a run needs, built once by ``start_run``."""

    accelerator: Accelerator
    model: torch.nn.Module  # prepared by Accelerate (maybe DDP-wrapped): train through this
    core: Any  # the same peft model unwrapped: reference, evaluation and saving
    optimizer: Any
    scheduler: torch.optim.lr_scheduler.LambdaLR
    tokenizer: PreTrainedTokenizerBase
    pad_id: int
    config: DPOConfig
    policy_path: str
    ctx: JobContext
    train: list[EncodedPair]
    val: list[EncodedPair]
    steps_per_epoch: int

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.epochs


def train_dpo(
    examples: Sequence[PreferenceExample],
    policy_path: str,
    config: DPOConfig,
    ctx: JobContext,
    output_dir: Path,
) -> dict[str, float]:
    """Tunes the policy at ``policy_path`` on the strict preferences among ``examples`` (ties
    left out); writes a LoRA adapter over it into ``output_dir`` and returns the last step's
    metrics with the held-out evaluation. Resumes from ``ctx.checkpoint_dir``; raises
    ``JobInterrupted`` after saving a checkpoint when ``ctx.should_stop()``."""
    pairs = strict_preferences(examples)
    if not pairs:
        raise ValueError("no labelled pairs with a preference (ties are left out) to train on")
    train, val = split_by_group(pairs, config.val_fraction, config.seed)
    run = start_run(policy_path, config, ctx, train, val)
    fingerprint = data_fingerprint([*train, *val], policy_path)
    state = resume_or_start(run, fingerprint)
    train_epochs(run, state, fingerprint)
    results = {**state.metrics, **evaluate_pairs(*_eval_args(run, state))}
    results.update(
        steps=float(state.step),
        n_train=float(len(run.train)),
        num_processes=float(run.accelerator.num_processes),
        **{"sync/param_spread": parameter_spread(run)},
    )
    if run.accelerator.is_main_process:
        save_outputs(run, output_dir)
    run.accelerator.wait_for_everyone()
    # A worker process lives on after the job: drop Accelerate's references to the model.
    run.accelerator.free_memory()
    return results


def start_run(
    policy_path: str,
    config: DPOConfig,
    ctx: JobContext,
    train: Sequence[PreferenceExample],
    val: Sequence[PreferenceExample],
) -> DPORun:

    accelerator = Accelerator()
    # The adapter's random half must start alike everywhere (DDP also broadcasts it).
    torch.manual_seed(config.seed)
    model, tokenizer = lora_policy(
        policy_path, config.lora_r, config.lora_alpha, config.lora_target_modules
    )
    model.train()
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    total = steps_per_epoch * config.epochs
    # Not prepared by Accelerate: it would step once per process, but our steps are global.
    scheduler = get_linear_schedule_with_warmup(
        optimizer, round(config.warmup_ratio * total), total
    )
    prepared, optimizer = accelerator.prepare(model, optimizer)
    return DPORun(
        accelerator=accelerator,
        model=prepared,
        core=accelerator.unwrap_model(prepared),
        optimizer=optimizer,
        scheduler=scheduler,
        tokenizer=tokenizer,
        pad_id=int(tokenizer.pad_token_id),
        config=config,
        policy_path=policy_path,
        ctx=ctx,
        train=encode_pairs(tokenizer, train, config),
        val=encode_pairs(tokenizer, val, config),
        steps_per_epoch=steps_per_epoch,
    )


def resume_or_start(run: DPORun, fingerprint: str) -> TrainState:
    """The checkpoint's state, or a fresh one with the reference log-probs computed now."""
    state = load_checkpoint(
        run.ctx.checkpoint_dir, run.core, run.optimizer, run.scheduler, run.config, fingerprint
    )
    # Both lines are what an operator (and the crash test) reads to tell a resume from a restart.
    if state is not None:
        log.info(
            "resuming DPO at step %d of %d with the checkpoint's reference log-probs",
            state.step, run.total_steps,
        )  # fmt: skip
        return state
    log.info(
        "computing reference log-probs of %d training and %d held-out pairs",
        len(run.train), len(run.val),
    )  # fmt: skip
    args = (run.accelerator, run.config, run.pad_id)
    return TrainState(
        ref_train=reference_logps(run.core, run.train, *args),
        ref_val=reference_logps(run.core, run.val, *args),
    )


def train_epochs(run: DPORun, state: TrainState, fingerprint: str) -> None:
    """Optimiser steps from ``state.step`` to the end; held-out evaluation after each epoch."""
    config, accelerator = run.config, run.accelerator
    lengths = [p.length() for p in run.train]
    for epoch in range(state.step // run.steps_per_epoch, config.epochs):
        # A function of the epoch alone, so a resumed run draws the same batches.
        batches = length_grouped_batches(
            lengths, config.batch_size, config.seed + epoch, config.length_group_size
        )
        for batch in batches[state.step - epoch * run.steps_per_epoch :]:
            if stop_requested(run.ctx, accelerator):
                checkpoint(run, state, fingerprint)
                raise JobInterrupted(f"DPO stopped after step {state.step}")
            state.metrics = {**train_step(run, state, batch, lengths), "epoch": float(epoch)}
            state.step += 1
            if state.step % config.log_every == 0 or state.step == run.total_steps:
                report(run, state)
            if state.step % config.checkpoint_every == 0:
                checkpoint(run, state, fingerprint)
        state.metrics.update(evaluate_pairs(*_eval_args(run, state)))
        report(run, state)
        # Also after the last epoch: a crash while saving resumes straight to the end.
        checkpoint(run, state, fingerprint)


def train_step(
    run: DPORun, state: TrainState, batch: Sequence[int], lengths: Sequence[int]
) -> dict[str, float]:
    """One optimiser step on a global batch; its metrics, averaged over the whole batch."""
    accelerator, config = run.accelerator, run.config
    world = accelerator.num_processes
    local = shard(batch, accelerator.process_index, world)
    # A process left without pairs (a short last batch) still joins the gradient all-reduce.
    weight = 1.0 if local else 0.0
    # Two rows per pair: halve the cap that micro_batches applies per pair.
    parts = micro_batches(local or [batch[0]], 1, lengths, config.max_tokens_per_forward // 2)
    sums = torch.zeros(len(METRICS), device=accelerator.device)
    for i, idx in enumerate(parts):
        last = i == len(parts) - 1
        with contextlib.nullcontext() if last else accelerator.no_sync(run.model):
            terms, chosen, rejected = pair_terms(
                run.model, run.train, idx, state.ref_train, config, run.pad_id, accelerator.device
            )
            # DDP averages over processes; this scaling turns that average into the global mean.
            accelerator.backward(terms.losses.sum() * (weight * world / len(batch)))
        sums += pair_metric_sums(terms, chosen, rejected) * weight
    if config.max_grad_norm:
        accelerator.clip_grad_norm_(run.model.parameters(), config.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    if world > 1:
        sums = accelerator.reduce(sums, reduction="sum")
    metrics = dict(zip(METRICS, (sums / len(batch)).tolist(), strict=True))
    metrics["lr"] = float(run.scheduler.get_last_lr()[0])
    return metrics


def _eval_args(run: DPORun, state: TrainState) -> tuple[Any, ...]:
    return (run.core, run.accelerator, run.val, state.ref_val, run.config, run.pad_id)


def report(run: DPORun, state: TrainState) -> None:
    if run.accelerator.is_main_process:
        run.ctx.report(state.step, state.step / run.total_steps, state.metrics)


def checkpoint(run: DPORun, state: TrainState, fingerprint: str) -> None:
    save_checkpoint(
        run.ctx.checkpoint_dir, run.accelerator, run.core, run.optimizer, run.scheduler, state,
        run.config, fingerprint,
    )  # fmt: skip


def parameter_spread(run: DPORun) -> float:
    """How far the processes' trained weights are apart (max - min of a checksum): 0 when the
    gradient all-reduce kept them in step, as it must; anything else is a broken setup."""
    trained = [p.detach().double().sum() for p in run.core.parameters() if p.requires_grad]
    checksum = torch.stack(trained).sum().reshape(1).to(run.accelerator.device)
    every = run.accelerator.gather(checksum)
    return float(every.max() - every.min())


def save_outputs(run: DPORun, output_dir: Path) -> None:
    """The adapter (what ``load_policy`` reads) over the policy it started from, and the config."""
    save_adapter(run.core, run.tokenizer, run.policy_path, output_dir)
    (output_dir / "dpo_config.json").write_text(json.dumps(run.config.to_dict(), indent=2))
