"""Sampling two different responses per prompt, from one policy or from two, for annotators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from trainer.context import JobContext, JobInterrupted
from trainer.policy import encode_prompts, load_policy, stop_token_ids


@dataclass(frozen=True)
class GenerationConfig:
    # Longest response, in tokens; a response cut here is kept as it is.
    max_new_tokens: int = 128
    # Sampling temperature; > 0, since two greedy answers from one policy are always equal.
    temperature: float = 0.8
    # Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p.
    top_p: float = 0.95
    # Makes a run repeatable: each batch and attempt draws from its own seed derived from it.
    seed: int = 0
    # Prompts per generate call (each yields two responses).
    batch_size: int = 8
    # Prompts longer than this lose their oldest tokens; the latest turns matter most.
    max_prompt_tokens: int = 512
    # Sampling rounds for prompts whose two responses came out identical; then they are dropped.
    max_attempts: int = 3


def generate_pairs(
    policy_a: str,
    policy_b: str | None,
    prompts: Sequence[list[dict[str, str]]],
    config: GenerationConfig,
    ctx: JobContext | None = None,
) -> list[tuple[int, str, str]]:
    """(prompt index, response A, response B) for each prompt that gave two different responses.

    With one policy both responses are its samples; with two, A comes from ``policy_a`` and B
    from ``policy_b``. Raises ``JobInterrupted`` when ``ctx`` asks to stop: generation is
    seeded, so a re-run produces the same pairs.
    """
    if config.temperature <= 0:
        raise ValueError("temperature must be > 0 to sample different responses")
    model_a, tok_a = load_policy(policy_a)
    second = load_policy(policy_b) if policy_b is not None and policy_b != policy_a else None

    pairs: dict[int, tuple[str, str]] = {}
    pending = list(range(len(prompts)))
    calls, total_calls = 0, -(-len(pending) // config.batch_size)
    for attempt in range(config.max_attempts):
        for start in range(0, len(pending), config.batch_size):
            if ctx is not None and ctx.should_stop():
                raise JobInterrupted("generation stopped")
            idx = pending[start : start + config.batch_size]
            batch = [prompts[i] for i in idx]
            seed = config.seed + 1_000_003 * attempt + start
            if second is None:
                a, b = sample_responses(model_a, tok_a, batch, config, seed, n=2)
            else:
                (a,) = sample_responses(model_a, tok_a, batch, config, seed, n=1)
                (b,) = sample_responses(second[0], second[1], batch, config, seed + 1, n=1)
            for i, ra, rb in zip(idx, a, b, strict=True):
                if ra.strip() != rb.strip():
                    pairs[i] = (ra, rb)
            calls += 1
            if ctx is not None:
                progress = min(1.0, calls / max(total_calls, 1))
                metrics = {"pairs": float(len(pairs)), "attempt": float(attempt)}
                ctx.report(calls, progress, metrics)
        pending = [i for i in pending if i not in pairs]
        if not pending:
            break
    return [(i, *pairs[i]) for i in sorted(pairs)]


@torch.no_grad()
def sample_responses(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[list[dict[str, str]]],
    config: GenerationConfig,
    seed: int,
    n: int,
) -> list[list[str]]:
    """n lists of len(prompts) response texts, cut at the first end-of-sequence token."""
    input_ids, attention_mask = encode_prompts(tokenizer, prompts, config.max_prompt_tokens)
    device = next(model.parameters()).device
    stops = stop_token_ids(model, tokenizer)
    torch.manual_seed(seed)
    out = model.generate(
        input_ids=input_ids.to(device),
        attention_mask=attention_mask.to(device),
        do_sample=True,
        temperature=config.temperature,
        top_p=config.top_p,
        top_k=0,
        max_new_tokens=config.max_new_tokens,
        num_return_sequences=n,
        eos_token_id=stops,
        pad_token_id=tokenizer.pad_token_id,
    )
    responses = out[:, input_ids.shape[1] :].cpu()  # (B * n, T), rows of one prompt adjacent
    texts = [decode_response(tokenizer, row, stops) for row in responses]
    return [texts[k::n] for k in range(n)]


def decode_response(
    tokenizer: PreTrainedTokenizerBase, tokens: torch.Tensor, stops: Sequence[int]
) -> str:
    """Text of one response row, up to (without) its first stop token."""
    ids = tokens.tolist()
    for pos, token in enumerate(ids):
        if token in stops:
            ids = ids[:pos]
            break
    return str(tokenizer.decode(ids, skip_special_tokens=True)).strip()
