"""Where a simulated rater's right answer comes from.

`TruthSource` is the whole interface: given a pair as the API shows it, the right choice (B
compared with A, in the comparison's order) or None when the source does not know the
pair. `FileTruth` reads any labelled file the importer reads and matches pairs by content
(the prompt and the unordered responses, hashed as the importer hashes them). A reward
model judge (`--judge`) is another implementation of the same protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from app.content import messages_hash, pair_hash, text_hash
from app.importing.parsers import ImportFormat, parse_line
from app.importing.records import LineError, SkipLine, flipped
from app.models import Choice


class TruthSource(Protocol):
    def answer(self, messages: list[dict[str, str]], text_a: str, text_b: str) -> Choice | None:
        """The right choice for this pair, B compared with A; None if unknown."""
        ...


def guess_format(first_line: bytes) -> ImportFormat:
    import orjson

    row = orjson.loads(first_line)
    if isinstance(row, dict) and "response_a" in row:
        return ImportFormat.pairs
    if isinstance(row, dict) and "prompt" in row:
        return ImportFormat.trl
    return ImportFormat.hh


class FileTruth:
    """The labels of a file: `pairs` rows with a `label` (or a `gold`), `hh` and `trl` rows."""

    def __init__(self, answers: dict[str, tuple[str, Choice]]) -> None:
        # pair hash -> (hash of the text the choice calls A, choice)
        self._answers = answers

    def __len__(self) -> int:
        return len(self._answers)

    @classmethod
    def read(cls, path: Path, fmt: ImportFormat | None = None) -> FileTruth:
        """Raises ValueError naming the line of a line the importer would refuse."""
        import gzip

        answers: dict[str, tuple[str, Choice]] = {}
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                fmt = fmt or guess_format(line)
                try:
                    pair = parse_line(fmt, line)
                except SkipLine:
                    continue
                except LineError as exc:
                    raise ValueError(f"{path}: line {number}: {exc}") from None
                choice = pair.choice or pair.gold
                if choice is None:
                    continue
                digest = pair_hash(
                    messages_hash(pair.messages), text_hash(pair.first), text_hash(pair.second)
                )
                answers.setdefault(digest, (text_hash(pair.first), choice))
        return cls(answers)

    def answer(self, messages: list[dict[str, str]], text_a: str, text_b: str) -> Choice | None:
        hash_a = text_hash(text_a)
        found = self._answers.get(pair_hash(messages_hash(messages), hash_a, text_hash(text_b)))
        if found is None:
            return None
        first, choice = found
        return choice if first == hash_a else flipped(choice)
