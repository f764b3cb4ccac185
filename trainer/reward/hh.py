"""Anthropic HH-RLHF records ({"chosen": transcript, "rejected": transcript}) as examples.

Used by benchmarks and tests on the shared data; the product's importer lives in ``app/``.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterable
from pathlib import Path

from trainer.reward.data import PreferenceExample

_TURN = re.compile(r"\n\n(Human|Assistant):")
_ROLES = {"Human": "user", "Assistant": "assistant"}


def parse_transcript(text: str) -> list[dict[str, str]]:
    """``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` -> messages; any preamble is dropped."""
    parts = _TURN.split(text)
    # parts = [preamble, role, content, role, content, ...]
    return [
        {"role": _ROLES[role], "content": content.strip()}
        for role, content in zip(parts[1::2], parts[2::2], strict=True)
    ]


def hh_example(record: dict[str, str], group: int, b_is_chosen: bool) -> PreferenceExample:
    chosen = parse_transcript(record["chosen"])
    rejected = parse_transcript(record["rejected"])
    if not chosen or not rejected or chosen[-1]["role"] != "assistant":
        raise ValueError(f"record {group}: transcript does not end with an assistant turn")
    # Two records in the shared data differ before the last turn; the chosen side's history wins.
    prompt, chosen_text, rejected_text = chosen[:-1], chosen[-1]["content"], rejected[-1]["content"]
    if b_is_chosen:
        return PreferenceExample(prompt, rejected_text, chosen_text, "better", group=group)
    return PreferenceExample(prompt, chosen_text, rejected_text, "worse", group=group)


def hh_examples(records: Iterable[dict[str, str]], seed: int = 0) -> list[PreferenceExample]:
    """Examples with A/B order randomised (seeded), so "better" and "worse" both occur."""
    rng = random.Random(seed)
    return [hh_example(r, i, rng.random() < 0.5) for i, r in enumerate(records)]


def read_hh_records(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
