"""Reward model training: Bradley-Terry with ties, under Hugging Face Accelerate.

One code path for one CPU, one GPU or several processes (``accelerate launch``). A global
batch of ``batch_size`` pairs is cut into one share per process and ``grad_accumulation``
micro-batches per share; each share's loss is scaled so that DDP's gradient average equals
the mean over the whole global batch, so results do not depend on the process count.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from torch.optim.lr_scheduler import LRScheduler
from transformers import PreTrainedModel, get_linear_schedule_with_warmup

from trainer.context import JobContext, JobInterrupted
from trainer.reward.batches import (
    EncodedPairs,
    encode_examples,
    length_grouped_batches,
    micro_batches,
    shard,
)
from trainer.reward.checkpoint import data_fingerprint, load_checkpoint, save_checkpoint
from trainer.reward.config import RewardConfig
from trainer.reward.data import PreferenceExample, split_by_group
from trainer.reward.loss import centering_penalty, preference_loss, preference_metrics
from trainer.reward.model import disable_dropout, load_reward_model
from trainer.reward.text import PairEncoder

log = logging.getLogger(__name__)

# Re-exported: launch entry points and older callers import the config from here.
__all__ = ["RewardConfig", "train_reward_model"]


def train_reward_model(
    examples: Sequence[PreferenceExample],
    base_model: str,
    config: RewardConfig,
    ctx: JobContext,
    output_dir: Path,
) -> dict[str, float]:
    """Trains a reward model, saves it with its tokenizer to ``output_dir``, returns metrics."""
    accelerator = Accelerator()
    torch.manual_seed(config.seed)  # the new scalar head must start alike in every process
    train, val = split_by_group(examples, config.val_fraction, config.seed)
    if not train:
        raise ValueError("no training examples")
    model, tokenizer, _ = load_reward_model(base_model)
    if config.disable_dropout:
        disable_dropout(model)
    limit = getattr(model.config, "max_position_embeddings", None)
    encoder = PairEncoder(tokenizer, min(config.max_length, limit or config.max_length))
    train_pairs = encode_examples(encoder, train, config.use_margin)
    val_pairs = encode_examples(encoder, val, config.use_margin)

    steps_per_epoch = math.ceil(len(train_pairs) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    optimizer = make_optimizer(model, config)
    # Not prepared by Accelerate: it would step once per process, but our steps are global.
    scheduler = get_linear_schedule_with_warmup(
        optimizer, round(config.warmup_ratio * total_steps), total_steps
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    fingerprint = data_fingerprint(train, base_model)
    checkpoint = (ctx.checkpoint_dir, accelerator, model, optimizer, scheduler)
    step = load_checkpoint(*checkpoint, config, fingerprint)
    if step:
        log.info("resuming reward training at step %d of %d", step, total_steps)

    model.train()
    lengths = train_pairs.lengths()
    metrics: dict[str, float] = {}
    for epoch in range(step // steps_per_epoch, config.epochs):
        batches = length_grouped_batches(
            lengths, config.batch_size, config.seed + epoch, config.length_group_size
        )
        for batch in batches[step - epoch * steps_per_epoch :]:
            if stop_requested(ctx, accelerator):
                save_checkpoint(*checkpoint, step, config, fingerprint)
                raise JobInterrupted(f"reward training stopped at step {step}")
            loss = train_step(
                model,
                optimizer,
                scheduler,
                accelerator,
                encoder,
                train_pairs,
                lengths,
                batch,
                config,
            )
            step += 1
            if accelerator.is_main_process and (
                step % config.log_every == 0 or step == total_steps
            ):
                lr = scheduler.get_last_lr()[0]
                ctx.report(
                    step, step / total_steps, {"train_loss": loss, "lr": lr, "epoch": float(epoch)}
                )
            if step % config.checkpoint_every == 0 and step < total_steps:
                save_checkpoint(*checkpoint, step, config, fingerprint)
        if epoch < config.epochs - 1:
            save_checkpoint(*checkpoint, step, config, fingerprint)
            if config.eval_each_epoch:
                metrics = evaluate(model, accelerator, encoder, val_pairs, config.eval_batch_size)
                if accelerator.is_main_process:
                    ctx.report(step, step / total_steps, {**metrics, "epoch": float(epoch)})

    metrics = evaluate(model, accelerator, encoder, val_pairs, config.eval_batch_size)
    metrics.update(n_train=float(len(train_pairs)), n_val=float(len(val_pairs)))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        accelerator.unwrap_model(model).save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)
        ctx.report(step, 1.0, {**metrics, "epoch": float(config.epochs - 1)})
    accelerator.wait_for_everyone()
    # A worker process lives on after the job: drop Accelerate's references to model and optimizer.
    accelerator.free_memory()
    return metrics


def make_optimizer(model: torch.nn.Module, config: RewardConfig) -> torch.optim.AdamW:
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate)


def stop_requested(ctx: JobContext, accelerator: Accelerator) -> bool:
    """Any process asked to stop -> every process stops at the same step."""
    flag = torch.tensor([float(ctx.should_stop())], device=accelerator.device)
    if accelerator.num_processes > 1:
        flag = accelerator.reduce(flag, reduction="sum")
    return bool(flag.item() > 0)


def pair_scores(
    model: torch.nn.Module,
    encoder: PairEncoder,
    pairs: EncodedPairs,
    idx: Sequence[int],
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of both sides of pairs ``idx`` from ONE forward pass: ((B,), (B,))."""
    inputs = {k: v.to(device) for k, v in pairs.model_inputs(encoder, idx).items()}  # (2B, T)
    rewards = model(**inputs).logits[:, 0].float()  # (2B,)
    first, second = rewards.split(len(idx))
    return first, second


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LRScheduler,
    accelerator: Accelerator,
    encoder: PairEncoder,
    pairs: EncodedPairs,
    lengths: Sequence[int],
    batch: Sequence[int],
    config: RewardConfig,
) -> float:
    """One optimizer step on a global batch; returns its mean loss over all processes."""
    world = accelerator.num_processes
    local = shard(batch, accelerator.process_index, world)
    # A process left without pairs (a short last batch) still joins the gradient all-reduce.
    weight = 1.0 if local else 0.0
    parts = micro_batches(
        local or [batch[0]], config.grad_accumulation, lengths, config.max_tokens_per_forward
    )
    loss_sum = torch.zeros((), device=accelerator.device)
    for i, idx in enumerate(parts):
        last = i == len(parts) - 1
        with contextlib.nullcontext() if last else accelerator.no_sync(model):
            first, second = pair_scores(model, encoder, pairs, idx, accelerator.device)
            target = pairs.target[idx].to(accelerator.device)
            margin = pairs.margin[idx].to(accelerator.device)
            per_pair = preference_loss(first - second, target, margin)  # (B,)
            if config.center_rewards_coef:
                per_pair = per_pair + config.center_rewards_coef * centering_penalty(first, second)
            # DDP averages over processes; this scaling turns that average into the global mean.
            accelerator.backward(per_pair.sum() * (weight * world / len(batch)))
        loss_sum += per_pair.detach().sum() * weight
    if config.max_grad_norm:
        accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    if world > 1:
        loss_sum = accelerator.reduce(loss_sum, reduction="sum")
    return float(loss_sum) / len(batch)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    accelerator: Accelerator,
    encoder: PairEncoder,
    pairs: EncodedPairs,
    batch_size: int,
) -> dict[str, float]:
    """Held-out metrics (see ``preference_metrics``); each process scores a share, then gather."""
    net: PreTrainedModel = accelerator.unwrap_model(model)
    net.eval()
    lengths = pairs.lengths()
    order = sorted(range(len(pairs)), key=lambda i: -lengths[i])
    mine = shard(order, accelerator.process_index, accelerator.num_processes)
    scored: list[tuple[int, float]] = []
    for start in range(0, len(mine), batch_size):
        idx = mine[start : start + batch_size]
        first, second = pair_scores(net, encoder, pairs, idx, accelerator.device)
        scored.extend(zip(idx, (first - second).tolist(), strict=True))
    if accelerator.num_processes > 1:
        scored = gather_object(scored)
    net.train()
    delta = torch.zeros(len(pairs))
    for i, d in scored:
        delta[i] = d
    return preference_metrics(delta, pairs.target)
