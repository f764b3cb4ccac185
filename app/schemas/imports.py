"""Import results."""

from __future__ import annotations

from pydantic import BaseModel


class LineMessage(BaseModel):
    line: int
    message: str
    # Why a skipped line was skipped (identical, empty_response, extended_transcript).
    kind: str | None = None


class ImportResult(BaseModel):
    # Lines that added a comparison or a label.
    imported: int
    # Lines whose comparison (and label, if any) were there already, from before or earlier in the file.
    duplicates: int
    # Well-formed lines that hold no comparison (identical responses, an empty HH turn).
    skipped: int = 0
    skipped_lines: list[LineMessage] = []
    # Skipped lines counted per kind, e.g. {"extended_transcript": 12}.
    skipped_kinds: dict[str, int] = {}


class ImportErrors(BaseModel):
    """422: every bad line (the first 1,000) with its number; nothing was written."""

    detail: list[LineMessage]
