"""Tokenized pairs and length-grouped batches of them.

Both responses of a pair go through the model in one forward pass, padded together to
the longest sequence of their batch; batches of similar lengths keep that padding small.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from trainer.reward.data import PreferenceExample, orient
from trainer.reward.debias import bootstrap_weights, length_balance_weights
from trainer.reward.text import EncodedPair, PairEncoder, render_conversation


@dataclass(frozen=True)
class EncodedPairs:
    first: list[EncodedPair]  # the preferred response (A for ties), with its prompt
    second: list[EncodedPair]
    target: torch.Tensor  # (N,) 1.0 or 0.5
    margin: torch.Tensor  # (N,) 0.0 where none
    first_chars: torch.Tensor  # (N,) characters of each response: what length debiasing sees
    second_chars: torch.Tensor  # (N,)
    weight: torch.Tensor  # (N, K) per pair and reward head: length balance x bootstrap counts

    def __len__(self) -> int:
        return len(self.first)

    def lengths(self) -> list[int]:
        """Tokens of the longer side of each pair: what a batch pads to."""
        return [
            max(len(a.input_ids), len(b.input_ids))
            for a, b in zip(self.first, self.second, strict=True)
        ]

    def model_inputs(self, encoder: PairEncoder, idx: Sequence[int]) -> dict[str, torch.Tensor]:
        """(2B, T) inputs: rows 0..B-1 are the first responses, rows B..2B-1 the second."""
        return encoder.pad([self.first[i] for i in idx] + [self.second[i] for i in idx])


def encode_examples(
    encoder: PairEncoder,
    examples: Sequence[PreferenceExample],
    use_margin: bool,
    heads: int = 1,
    length_balance: bool = False,
    seed: int = 0,
) -> EncodedPairs:
    """Tokenized pairs; with ``heads`` > 1 each head gets its own bootstrap weights, and
    ``length_balance`` weights pairs so chosen-longer and chosen-shorter ones count equally."""
    pairs = [orient(e, use_margin) for e in examples]
    prompts = [render_conversation(e.prompt) for e in examples]
    first_chars = [len(p.first) for p in pairs]
    second_chars = [len(p.second) for p in pairs]
    weight = bootstrap_weights(len(pairs), heads, seed)  # (N, K)
    if length_balance:
        # Ties have no preferred side, so they take no part in the balance.
        longer = [
            None if p.target != 1.0 or a == b else a > b
            for p, a, b in zip(pairs, first_chars, second_chars, strict=True)
        ]
        weight = weight * length_balance_weights(longer)[:, None]
    return EncodedPairs(
        first=encoder.encode(prompts, [p.first for p in pairs]),
        second=encoder.encode(prompts, [p.second for p in pairs]),
        target=torch.tensor([p.target for p in pairs], dtype=torch.float32),
        margin=torch.tensor([p.margin for p in pairs], dtype=torch.float32),
        first_chars=torch.tensor(first_chars, dtype=torch.float32),
        second_chars=torch.tensor(second_chars, dtype=torch.float32),
        weight=weight,
    )


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, seed: int, group_size: int = 50
) -> list[list[int]]:
    """Shuffled batches of indices whose members have similar lengths.

    Indices are shuffled, cut into mega-batches of ``group_size`` batches, sorted by length
    within each, cut into batches, and the batches shuffled again: randomness stays, padding
    mostly goes. Each batch is sorted longest first.
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = batch_size * max(group_size, 1)
    batches: list[list[int]] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda i: -lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def shard(batch: Sequence[int], rank: int, world: int) -> list[int]:
    """This process's share of a global batch; interleaved, so shares have similar lengths."""
    return list(batch[rank::world])


def micro_batches(
    idx: Sequence[int], n: int, lengths: Sequence[int] | None = None, max_tokens: int = 0
) -> list[list[int]]:
    """``idx`` cut into ``n`` contiguous runs (gradient accumulation), and runs cut further
    while a run padded to its longest member would exceed ``max_tokens`` (0: no limit).

    The loss is normalised by the global batch, so any cut gives the same gradient; the
    token cap only bounds activation memory on batches of long pairs.
    """
    size = max(1, -(-len(idx) // n))
    runs = [list(idx[i : i + size]) for i in range(0, len(idx), size)]
    if not max_tokens or lengths is None:
        return runs
    out: list[list[int]] = []
    for run in runs:
        current: list[int] = []
        widest = 0
        for i in run:
            width = max(widest, lengths[i])
            if current and width * (len(current) + 1) > max_tokens:
                out.append(current)
                current, width = [], lengths[i]
            current.append(i)
            widest = width
        out.append(current)
    return out
