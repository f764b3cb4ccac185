"""What an export holds and how it is written: schema, file format, filters."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from app.queries.trusted_labels import Trust


class ExportSchema(enum.StrEnum):
    raw = "raw"
    trl = "trl"


class FileFormat(enum.StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"


class TrlForm(enum.StrEnum):
    conversational = "conversational"
    text = "text"


class Flag(enum.StrEnum):
    harmful = "harmful"
    untrue = "untrue"
    unhelpful = "unhelpful"


@dataclass(frozen=True)
class ExportFilters:
    """Which labels take part; the trl schema aggregates only the labels that pass."""

    # Labels created at or after `since` and before `until`.
    since: datetime | None = None
    until: datetime | None = None
    # Usernames; empty means everyone (imported labels included).
    annotators: tuple[str, ...] = ()
    # Label sources ("human", "import:hh", ...); empty means all.
    sources: tuple[str, ...] = ()
    # Keep only labels with at least one of these flags.
    flagged: tuple[Flag, ...] = ()
    # Leave out labels with any of these flags.
    not_flagged: tuple[Flag, ...] = ()
    # Comparisons whose labels agree less than this (0..1) are left out.
    min_agreement: float | None = None
    # trl only: whose labels count, how one pair's labels combine, whether blind evaluation
    # pairs count (gold pairs never; the raw schema keeps every label).
    trust: Trust = field(default_factory=Trust)


@dataclass(frozen=True)
class ExportOptions:
    schema: ExportSchema = ExportSchema.raw
    fmt: FileFormat = FileFormat.jsonl
    form: TrlForm = TrlForm.conversational
    filters: ExportFilters = ExportFilters()
