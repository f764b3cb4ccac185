"""What one import line becomes, and the two ways a line can fail to become one."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from app.content import messages_hash, pair_hash, text_hash
from app.models import Choice, Strength


class LineError(ValueError):
    """A bad line: the whole import is refused and this message is reported with its number."""


class SkipKind(enum.StrEnum):
    """Why a well-formed line holds no comparison; imports count skipped lines per kind."""

    identical = "identical"  # the two responses (or whole transcripts) are the same
    empty_response = "empty_response"  # one response is empty (an HH record's last turn)
    # One HH transcript is the other plus turns after its last Assistant turn (HH-RLHF's
    # helpful-online has such records): there are no two final responses to compare.
    extended_transcript = "extended_transcript"


class SkipLine(Exception):
    """A well-formed line that holds no comparison (identical responses, an empty HH turn)."""

    def __init__(self, message: str, kind: SkipKind) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class ParsedPair:
    """One line's content in the order the file gave it; choice is `second` compared with `first`."""

    messages: list[dict[str, str]]
    first: str
    second: str
    choice: Choice | None
    strength: Strength | None = None
    # Labelled rows get a random A/B order so that A is not always the chosen one; an
    # unlabelled pair keeps the order its author gave (A = baseline, B = candidate, say).
    randomise: bool = True
    # Names of the sources of `first` and `second` (a `pairs` row's model_a and model_b).
    model_first: str | None = None
    model_second: str | None = None
    # The known answer of a gold pair (`second` compared with `first`), for quality control.
    gold: Choice | None = None


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A pair ready for the writer: hashed, ordered as A and B, choice meaning B compared with A."""

    line: int
    messages: list[dict[str, str]]
    prompt_hash: str
    text_a: str
    text_b: str
    hash_a: str
    hash_b: str
    pair_hash: str
    choice: Choice | None
    strength: Strength | None
    # The sources of text_a and text_b: they travel with their texts when A and B swap.
    model_a: str | None = None
    model_b: str | None = None
    gold: Choice | None = None


_FLIPPED = {Choice.better: Choice.worse, Choice.worse: Choice.better, Choice.same: Choice.same}


def flipped(choice: Choice) -> Choice:
    """The same judgement with A and B exchanged."""
    return _FLIPPED[choice]


def to_row(line: int, pair: ParsedPair) -> ImportRow:
    """Hashes the pair and fixes its A/B order, the same way on every import of the same pair."""
    if pair.first == pair.second:
        raise SkipLine("the two responses are identical", SkipKind.identical)
    prompt_digest = messages_hash(pair.messages)
    first_hash, second_hash = text_hash(pair.first), text_hash(pair.second)
    digest = pair_hash(prompt_digest, first_hash, second_hash)
    text_a, text_b, hash_a, hash_b = pair.first, pair.second, first_hash, second_hash
    model_a, model_b = pair.model_first, pair.model_second
    choice, gold = pair.choice, pair.gold
    if pair.randomise:
        # Seeded by the order-free pair hash: a re-import lands on the same orientation.
        swap = (second_hash < first_hash) != bool(int(digest[-1], 16) & 1)
        if swap:
            text_a, text_b, hash_a, hash_b = text_b, text_a, hash_b, hash_a
            model_a, model_b = model_b, model_a
            choice = flipped(choice) if choice is not None else None
            gold = flipped(gold) if gold is not None else None
    return ImportRow(
        line=line,
        messages=pair.messages,
        prompt_hash=prompt_digest,
        text_a=text_a,
        text_b=text_b,
        hash_a=hash_a,
        hash_b=hash_b,
        pair_hash=digest,
        choice=choice,
        strength=pair.strength,
        model_a=model_a,
        model_b=model_b,
        gold=gold,
    )
