from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer.reward.batches import length_grouped_batches, micro_batches, shard
from trainer.reward.data import (
    PreferenceExample,
    orient,
    randomise_sides,
    read_pairs_jsonl,
    split_by_group,
)

PROMPT = [{"role": "user", "content": "q"}]


def test_orient_puts_preferred_first() -> None:
    better = orient(PreferenceExample(PROMPT, "a", "b", "better", margin=2.0))
    assert (better.first, better.second, better.target, better.margin) == ("b", "a", 1.0, 2.0)
    worse = orient(PreferenceExample(PROMPT, "a", "b", "worse", margin=2.0), use_margin=False)
    assert (worse.first, worse.second, worse.target, worse.margin) == ("a", "b", 1.0, 0.0)
    tie = orient(PreferenceExample(PROMPT, "a", "b", "same", margin=2.0))
    assert (tie.target, tie.margin) == (0.5, 0.0)


def test_bad_choice_rejected() -> None:
    with pytest.raises(ValueError, match="choice"):
        PreferenceExample(PROMPT, "a", "b", "B")


def test_split_by_group_is_seeded_and_keeps_groups_whole() -> None:
    examples = [PreferenceExample(PROMPT, f"a{i}", "b", "better", group=i // 3) for i in range(90)]
    train, val = split_by_group(examples, 0.2, seed=1)
    assert len(val) == 18 and len(train) == 72
    assert not {e.group for e in train} & {e.group for e in val}
    assert split_by_group(examples, 0.2, seed=1) == (train, val)
    assert split_by_group(examples, 0.2, seed=2)[1] != val


def test_read_pairs_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    rows = [
        {"prompt": "hi", "response_a": "x", "response_b": "y", "choice": "same"},
        {"prompt": PROMPT, "response_a": "x", "response_b": "y", "label": "worse", "margin": 1},
        {"prompt": "unlabelled", "response_a": "x", "response_b": "y"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    examples = list(read_pairs_jsonl(path))
    assert [e.choice for e in examples] == ["same", "worse"]
    assert examples[0].prompt == [{"role": "user", "content": "hi"}]
    assert examples[1].margin == 1.0 and examples[0].group != examples[1].group


def test_randomise_sides_swaps_a_seeded_half_and_keeps_each_judgement() -> None:
    examples = [PreferenceExample(PROMPT, f"rejected {i}", f"chosen {i}", "better", group=i)
                for i in range(200)]  # fmt: skip
    mixed = randomise_sides(examples, seed=3, group_offset=1000)
    assert mixed == randomise_sides(examples, seed=3, group_offset=1000)
    assert 60 < sum(e.choice == "worse" for e in mixed) < 140
    for before, after in zip(examples, mixed, strict=True):
        chosen = after.response_b if after.choice == "better" else after.response_a
        assert chosen == before.response_b and after.group == before.group + 1000


def test_length_grouped_batches_cover_everything_and_pad_less() -> None:
    lengths = [(i * 37) % 200 + 1 for i in range(400)]
    batches = length_grouped_batches(lengths, batch_size=8, seed=0, group_size=50)
    assert sorted(i for b in batches for i in b) == list(range(400))
    shuffled = length_grouped_batches(lengths, batch_size=8, seed=0, group_size=1)

    def padding(bs: list[list[int]]) -> int:
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in bs)

    assert padding(batches) * 5 < padding(shuffled)
    assert batches != length_grouped_batches(lengths, batch_size=8, seed=1, group_size=50)


def test_shard_and_micro_batches() -> None:
    assert shard([5, 4, 3, 2, 1], rank=1, world=2) == [4, 2]
    assert micro_batches([1, 2, 3, 4, 5], 2) == [[1, 2, 3], [4, 5]]
    assert micro_batches([1], 4) == [[1]]


def test_micro_batches_respect_a_token_cap() -> None:
    lengths = {10: 100, 11: 90, 12: 50, 13: 40, 14: 10}
    # Longest first: [10, 11] pads to 100 x 2 = 200 tokens; adding 12 would make 300.
    assert micro_batches([10, 11, 12, 13, 14], 1, lengths, max_tokens=200) == [
        [10, 11],
        [12, 13, 14],
    ]
    # A pair longer than the cap still gets a micro-batch of its own.
    assert micro_batches([10, 14], 1, lengths, max_tokens=50) == [[10], [14]]
    assert micro_batches([10, 11, 12, 13, 14], 2, lengths, max_tokens=0) == [
        [10, 11, 12],
        [13, 14],
    ]
