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
from trainer.reward.debias import length_decorrelation_loss
from trainer.reward.loss import centering_penalty, preference_loss, preference_metrics
from trainer.reward.model import HeadLayout, disable_dropout, load_reward_model
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
    wanted = HeadLayout(config.reward_heads, length_head=config.length_head_coef > 0)
    model, tokenizer, layout = load_reward_model(base_model, wanted)
    if config.disable_dropout:
        disable_dropout(model)
    limit = getattr(model.config, "max_position_embeddings", None)
    encoder = PairEncoder(tokenizer, min(config.max_length, limit or config.max_length))
    train_pairs = encode_examples(
        encoder, train, config.use_margin, layout.reward_heads, config.length_balance, config.seed
    )
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
                layout,
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
                metrics = evaluate(
                    model, accelerator, encoder, val_pairs, config.eval_batch_size, layout
                )
                if accelerator.is_main_process:
                    ctx.report(step, step / total_steps, {**metrics, "epoch": float(epoch)})

    metrics = evaluate(model, accelerator, encoder, val_pairs, config.eval_batch_size, layout)
    metrics.update(n_train=float(len(train_pairs)), n_val=float(len(val_pairs)))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        net = accelerator.unwrap_model(model)
        offsets = head_offsets(net, encoder, train_pairs, layout, accelerator.device)
        HeadLayout(layout.reward_heads, layout.length_head, offsets).save_into(net.config)
        net.save_pretrained(output_dir)
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


def pair_heads(
    model: torch.nn.Module,
    encoder: PairEncoder,
    pairs: EncodedPairs,
    idx: Sequence[int],
    device: torch.device,
    layout: HeadLayout,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Both sides of pairs ``idx`` from ONE forward pass: reward heads (2B, K), rows 0..B-1
    the first responses, and the length head (2B,) or None."""
    inputs = {k: v.to(device) for k, v in pairs.model_inputs(encoder, idx).items()}  # (2B, T)
    logits = model(**inputs).logits.float()  # (2B, K + L)
    return layout.rewards(logits), layout.length(logits)


def pair_deltas(
    model: torch.nn.Module,
    encoder: PairEncoder,
    pairs: EncodedPairs,
    idx: Sequence[int],
    device: torch.device,
    layout: HeadLayout,
) -> torch.Tensor:
    """(B,) score of the first minus the second response, the ensemble's mean."""
    rewards, _ = pair_heads(model, encoder, pairs, idx, device, layout)
    mean = rewards.mean(dim=1)  # (2B,)
    return mean[: len(idx)] - mean[len(idx) :]


def pair_loss(
    rewards: torch.Tensor,
    length_head: torch.Tensor | None,
    pairs: EncodedPairs,
    idx: Sequence[int],
    config: RewardConfig,
) -> torch.Tensor:
    """(B,) loss per pair: Bradley-Terry on each reward head (plus the length head, ODIN's
    training-time sum) weighted per head, the centring term, and the pair's share of the
    batch's length-decorrelation loss."""
    n = len(idx)
    device = rewards.device
    first, second = rewards[:n], rewards[n:]  # (B, K), (B, K)
    delta = first - second  # (B, K)
    if length_head is not None:
        delta = delta + (length_head[:n] - length_head[n:])[:, None]
    target = pairs.target[idx].to(device)[:, None].expand_as(delta)
    margin = pairs.margin[idx].to(device)[:, None].expand_as(delta)
    weight = pairs.weight[idx].to(device)  # (B, K)
    per_pair = (preference_loss(delta, target, margin) * weight).mean(dim=1)  # (B,)
    if config.center_rewards_coef:
        centring = centering_penalty(first, second).mean(dim=1)
        per_pair = per_pair + config.center_rewards_coef * centring
    if length_head is not None:
        chars = torch.cat([pairs.first_chars[idx], pairs.second_chars[idx]]).to(device)
        debias = length_decorrelation_loss(rewards, length_head, chars)
        per_pair = per_pair + config.length_head_coef * debias  # spread evenly over the pairs
    return per_pair


@torch.no_grad()
def head_offsets(
    net: torch.nn.Module,
    encoder: PairEncoder,
    pairs: EncodedPairs,
    layout: HeadLayout,
    device: torch.device,
    sample: int = 128,
) -> tuple[float, ...]:
    """Each reward head's mean score on (a sample of) the training responses, subtracted at
    scoring so an ensemble's spread is disagreement, not the heads' arbitrary levels."""
    if layout.reward_heads == 1 or not len(pairs):
        return ()
    net.eval()
    idx = list(range(0, len(pairs), max(1, len(pairs) // sample)))[:sample]
    sums = torch.zeros(layout.reward_heads)
    for start in range(0, len(idx), 16):
        rewards, _ = pair_heads(net, encoder, pairs, idx[start : start + 16], device, layout)
        sums += rewards.sum(dim=0).cpu()
    net.train()
    return tuple((sums / (2 * len(idx))).tolist())


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
    layout: HeadLayout,
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
            rewards, length_head = pair_heads(
                model, encoder, pairs, idx, accelerator.device, layout
            )
            per_pair = pair_loss(rewards, length_head, pairs, idx, config)  # (B,)
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
    layout: HeadLayout,
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
        delta = pair_deltas(net, encoder, pairs, idx, accelerator.device, layout)
        scored.extend(zip(idx, delta.tolist(), strict=True))
    if accelerator.num_processes > 1:
        scored = gather_object(scored)
    net.train()
    delta = torch.zeros(len(pairs))
    for i, d in scored:
        delta[i] = d
    return preference_metrics(delta, pairs.target)
