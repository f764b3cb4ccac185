"""Labelled preference files (the import formats) read as examples: ``rlhf reward-eval`` and
the benchmarks.

Lines are parsed by the importer's own parsers, so a file that imports also evaluates, and a
benchmark scores the data the product would import: ``pairs`` rows with a ``label``, ``hh``
and ``trl`` rows, plain or gzipped. Unlabelled pairs hold nothing to score and are left out;
lines the importer skips (identical responses, an empty HH turn, an HH transcript that is the
other plus a Human turn) are left out and counted per kind.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from app.importing.parsers import ImportFormat, parse_line
from app.importing.records import LineError, SkipKind, SkipLine
from trainer.reward.data import PreferenceExample


@dataclass
class PreferenceFile:
    # choice: B compared with A, in the file's order; group: the line number
    examples: list[PreferenceExample] = field(default_factory=list)
    # Lines the importer would skip, per SkipKind ("extended_transcript": 12, ...)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


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


def read_preference_file(path: Path, fmt: str | None = None) -> PreferenceFile:
    """Every labelled line as an example; ``ValueError`` names a bad line."""
    found = PreferenceFile()
    chosen_format = ImportFormat(fmt) if fmt else None
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            chosen_format = chosen_format or guess_format(line)
            try:
                pair = parse_line(chosen_format, line)
            except SkipLine as exc:
                found.skipped[exc.kind.value] = found.skipped.get(exc.kind.value, 0) + 1
                continue
            except LineError as exc:
                raise ValueError(f"{path}: line {line_no}: {exc}") from None
            if pair.choice is None:
                continue
            if pair.first == pair.second:  # the importer's to_row skips these too
                kind = SkipKind.identical.value
                found.skipped[kind] = found.skipped.get(kind, 0) + 1
                continue
            found.examples.append(
                PreferenceExample(
                    prompt=pair.messages,
                    response_a=pair.first,
                    response_b=pair.second,
                    choice=pair.choice.value,
                    group=line_no,
                )
            )
    return found
