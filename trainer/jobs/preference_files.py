"""Labelled preference files (the import formats) read as examples, for ``rlhf reward-eval``.

Lines are parsed by the importer's own parsers, so a file that imports also evaluates:
``pairs`` rows with a ``label``, ``hh`` and ``trl`` rows. Unlabelled pairs and lines the
importer would skip (identical responses) hold nothing to score and are left out.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from app.importing.parsers import ImportFormat, parse_line
from app.importing.records import LineError, SkipLine
from trainer.reward.data import PreferenceExample


def guess_format(first_line: bytes) -> ImportFormat:
    try:
        row = orjson.loads(first_line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"line 1: not valid JSON: {exc}") from None
    if isinstance(row, dict):
        if "response_a" in row:
            return ImportFormat.pairs
        if "chosen" in row and "rejected" in row:
            return ImportFormat.trl if "prompt" in row else ImportFormat.hh
    raise ValueError("cannot tell the format from the first line; give --format pairs|hh|trl")


def read_preference_file(path: Path, fmt: str | None = None) -> list[PreferenceExample]:
    """Every labelled line as an example (choice: B compared with A); ``ValueError`` names a
    bad line."""
    examples: list[PreferenceExample] = []
    chosen_format = ImportFormat(fmt) if fmt else None
    with path.open("rb") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            chosen_format = chosen_format or guess_format(line)
            try:
                pair = parse_line(chosen_format, line)
            except SkipLine:
                continue
            except LineError as exc:
                raise ValueError(f"{path}: line {line_no}: {exc}") from None
            if pair.choice is None:
                continue
            examples.append(
                PreferenceExample(
                    prompt=pair.messages,
                    response_a=pair.first,
                    response_b=pair.second,
                    choice=pair.choice.value,
                    group=line_no,
                )
            )
    return examples
