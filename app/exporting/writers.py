"""Streaming writers: export rows in, byte chunks out, in constant memory.

JSONL lines are gathered into chunks of about CHUNK_BYTES; Parquet row groups of
ROW_GROUP_ROWS rows are written through pyarrow's ParquetWriter into a sink that
hands back whatever bytes each row group produced.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from app.exporting.options import ExportSchema, TrlForm
from app.exporting.rows import Row, RowBuilder

CHUNK_BYTES = 256 * 1024
ROW_GROUP_ROWS = 10_000

_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))

RAW_SCHEMA = pa.schema(
    [
        ("label_id", pa.int64()),
        ("comparison_id", pa.int64()),
        ("prompt_id", pa.int64()),
        ("prompt", _MESSAGES),
        ("response_a_id", pa.int64()),
        ("response_a", pa.string()),
        ("response_b_id", pa.int64()),
        ("response_b", pa.string()),
        ("choice", pa.string()),
        ("strength", pa.string()),
        ("feedback", pa.string()),
        ("flag_harmful", pa.bool_()),
        ("flag_untrue", pa.bool_()),
        ("flag_unhelpful", pa.bool_()),
        ("shown_swapped", pa.bool_()),
        ("annotator", pa.string()),
        ("annotator_id", pa.int64()),
        ("source", pa.string()),
        ("time_spent_ms", pa.int64()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("response_a_source", pa.string()),
        ("response_a_model_version_id", pa.int64()),
        ("response_b_source", pa.string()),
        ("response_b_model_version_id", pa.int64()),
        ("is_gold", pa.bool_()),
    ]
)

_TRL_EXTRA = [
    ("margin", pa.float64()),
    ("agreement", pa.float64()),
    ("labels", pa.int64()),
    ("comparison_id", pa.int64()),
]
TRL_CONVERSATIONAL_SCHEMA = pa.schema(
    [("prompt", _MESSAGES), ("chosen", _MESSAGES), ("rejected", _MESSAGES), *_TRL_EXTRA]
)
TRL_TEXT_SCHEMA = pa.schema(
    [("prompt", pa.string()), ("chosen", pa.string()), ("rejected", pa.string()), *_TRL_EXTRA]
)


def parquet_schema(schema: ExportSchema, form: TrlForm) -> pa.Schema:
    if schema is ExportSchema.raw:
        return RAW_SCHEMA
    return TRL_TEXT_SCHEMA if form is TrlForm.text else TRL_CONVERSATIONAL_SCHEMA


def jsonl_chunks(batches: Iterable[Sequence[Row]], build: RowBuilder) -> Iterator[bytes]:
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    pending: list[bytes] = []
    size = 0
    for batch in batches:
        for row in batch:
            line = dumps(build(row), option=newline)
            pending.append(line)
            size += len(line)
            # Checked per line, not per batch: a chunk never holds more than about
            # CHUNK_BYTES plus one row, however wide the rows are.
            if size >= CHUNK_BYTES:
                yield b"".join(pending)
                pending.clear()
                size = 0
    if pending:
        yield b"".join(pending)


class _ChunkSink(io.RawIOBase):
    """A write-only file that keeps what was written until `take` hands it on."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def parquet_chunks(
    batches: Iterable[Sequence[Row]], build: RowBuilder, schema: pa.Schema
) -> Iterator[bytes]:
    sink = _ChunkSink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    pending: list[dict[str, Any]] = []
    for batch in batches:
        pending.extend(build(row) for row in batch)
        if len(pending) >= ROW_GROUP_ROWS:
            writer.write_batch(pa.RecordBatch.from_pylist(pending, schema=schema))
            pending.clear()
            yield sink.take()
    if pending:
        writer.write_batch(pa.RecordBatch.from_pylist(pending, schema=schema))
    # An empty export is still a valid Parquet file with the declared schema.
    writer.close()
    yield sink.take()
