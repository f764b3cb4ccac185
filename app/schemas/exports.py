"""Export query parameters, gathered into the options the exporter takes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query

from app.exporting.options import (
    ExportFilters,
    ExportOptions,
    ExportSchema,
    FileFormat,
    Flag,
    TrlForm,
)
from app.queries.trusted_labels import Aggregation, Trust


def export_options(
    fmt: Annotated[FileFormat, Query(alias="format")] = FileFormat.jsonl,
    schema: Annotated[
        ExportSchema, Query(description="raw: one row per label; trl: one row per comparison")
    ] = ExportSchema.raw,
    form: Annotated[
        TrlForm, Query(description="trl only: message lists or plain text")
    ] = TrlForm.conversational,
    since: Annotated[
        datetime | None, Query(description="labels created at or after (ISO 8601)")
    ] = None,
    until: Annotated[datetime | None, Query(description="labels created before (ISO 8601)")] = None,
    annotator: Annotated[
        list[str] | None, Query(description="usernames; repeat for several")
    ] = None,
    source: Annotated[
        list[str] | None, Query(description='label sources: "human", "import:hh", ...')
    ] = None,
    flag: Annotated[
        list[Flag] | None, Query(description="only labels with one of these flags")
    ] = None,
    not_flag: Annotated[
        list[Flag] | None, Query(description="no labels with any of these flags")
    ] = None,
    min_agreement: Annotated[
        float | None, Query(ge=0, le=1, description="leave out comparisons whose labels agree less")
    ] = None,
    include_evaluation: Annotated[
        bool, Query(description="trl only: also export the labels of blind evaluation pairs")
    ] = False,
    include_flagged: Annotated[
        bool,
        Query(description="trl only: keep labels of flagged and suspended annotators"),
    ] = False,
    aggregation: Annotated[
        Aggregation,
        Query(description="trl only: majority vote, or the latent-truth model's weighted vote"),
    ] = Aggregation.majority,
) -> ExportOptions:
    return ExportOptions(
        schema=schema,
        fmt=fmt,
        form=form,
        filters=ExportFilters(
            since=_aware(since),
            until=_aware(until),
            annotators=tuple(annotator or ()),
            sources=tuple(source or ()),
            flagged=tuple(flag or ()),
            not_flagged=tuple(not_flag or ()),
            min_agreement=min_agreement,
            trust=Trust(
                include_flagged=include_flagged,
                aggregation=aggregation,
                include_evaluation=include_evaluation,
            ),
        ),
    )


def _aware(moment: datetime | None) -> datetime | None:
    # A time without an offset is read as UTC, the only zone the database stores.
    if moment is not None and moment.tzinfo is None:
        from datetime import UTC

        return moment.replace(tzinfo=UTC)
    return moment
