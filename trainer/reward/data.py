"""Preference examples: what a reward job trains on, where they come from, how they split."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

CHOICES = ("better", "worse", "same")
# Required score gap (in reward units) for a label given with a strength: a "much better"
# answer should win by more than a "slightly better" one (Llama 2's margin loss).
MARGIN_BY_STRENGTH = {"slightly": 1 / 3, "much": 1.0}


@dataclass(frozen=True)
class PreferenceExample:
    prompt: list[dict[str, str]]  # messages [{"role": "system"|"user"|"assistant", "content": str}]
    response_a: str
    response_b: str
    choice: str  # "better" | "worse" | "same": response B compared with response A
    margin: float | None = None  # from label strength, optional
    group: int = 0  # comparison id: the train/validation split is by group, never splitting a group

    def __post_init__(self) -> None:
        if self.choice not in CHOICES:
            raise ValueError(f"choice must be one of {CHOICES}, not {self.choice!r}")


@dataclass(frozen=True)
class OrientedPair:
    """A pair with its preferred response first; for ties the order is A then B."""

    first: str
    second: str
    target: float  # wanted P(first beats second): 1.0, or 0.5 for a tie
    margin: float  # required score gap for a strict preference; 0.0 when none


def orient(example: PreferenceExample, use_margin: bool = True) -> OrientedPair:
    margin = example.margin if use_margin and example.margin is not None else 0.0
    if example.choice == "better":
        return OrientedPair(example.response_b, example.response_a, 1.0, margin)
    if example.choice == "worse":
        return OrientedPair(example.response_a, example.response_b, 1.0, margin)
    return OrientedPair(example.response_a, example.response_b, 0.5, 0.0)


_SWAPPED = {"better": "worse", "worse": "better", "same": "same"}


def randomise_sides(
    examples: Sequence[PreferenceExample], seed: int, group_offset: int = 0
) -> list[PreferenceExample]:
    """A and B exchanged in a seeded half of the examples (files of human choices name the
    chosen side first), groups shifted by ``group_offset`` to keep two files' groups apart."""
    rng = random.Random(seed)
    out = []
    for e in examples:
        a, b, choice = e.response_a, e.response_b, e.choice
        if rng.random() < 0.5:
            a, b, choice = b, a, _SWAPPED[choice]
        out.append(PreferenceExample(e.prompt, a, b, choice, e.margin, e.group + group_offset))
    return out


def split_by_group(
    examples: Sequence[PreferenceExample], val_fraction: float, seed: int
) -> tuple[list[PreferenceExample], list[PreferenceExample]]:
    """Seeded train/validation split in which all labels of one comparison land on one side."""
    groups = sorted({e.group for e in examples})
    random.Random(seed).shuffle(groups)
    n_val = round(len(groups) * val_fraction)
    if val_fraction > 0 and n_val == 0 and len(groups) > 1:
        n_val = 1
    val_groups = set(groups[:n_val])
    train = [e for e in examples if e.group not in val_groups]
    val = [e for e in examples if e.group in val_groups]
    return train, val


def _as_messages(prompt: object) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in prompt
    ):
        return [{"role": m["role"], "content": m["content"]} for m in prompt]
    raise ValueError("prompt must be a string or a list of {role, content} messages")


def _margin(row: dict[str, object]) -> float | None:
    if row.get("margin") is not None:
        return float(row["margin"])  # type: ignore[arg-type]
    strength = row.get("strength")
    return MARGIN_BY_STRENGTH.get(strength) if isinstance(strength, str) else None


def read_pairs_jsonl(path: Path) -> Iterator[PreferenceExample]:
    """Rows ``{"prompt", "response_a", "response_b", "choice" (or "label"), "margin"?, "group"?}``,
    or rows of a raw export (``comparison_id``, ``strength``, ...).

    Rows without a choice are unlabelled pairs and are skipped. The group is ``group``, else
    the raw export's ``comparison_id`` (several labels of one comparison are one group, so
    the split never puts one comparison on both sides), else the row is its own comparison.
    """
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            choice = row.get("choice", row.get("label"))
            if choice is None:
                continue
            try:
                yield PreferenceExample(
                    prompt=_as_messages(row["prompt"]),
                    response_a=str(row["response_a"]),
                    response_b=str(row["response_b"]),
                    choice=str(choice),
                    margin=_margin(row),
                    group=int(row.get("group", row.get("comparison_id", -line_no))),
                )
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"{path}:{line_no}: {err}") from err


def write_pairs_jsonl(examples: Iterable[PreferenceExample], path: Path) -> Path:
    """What ``read_pairs_jsonl`` reads back into the same examples (the worker's hand-off)."""
    with path.open("w", encoding="utf-8") as f:
        for example in examples:
            f.write(json.dumps(asdict(example)) + "\n")
    return path
