"""An export from query to bytes: counts first (for the response headers), then the stream.

The export owns one database connection, opened here rather than borrowed from a request:
a streamed body is sent after the request's session has ended. Counting and streaming
share that connection's snapshot (one read transaction on SQLite, REPEATABLE READ on
PostgreSQL), so the counts announced up front are the rows that follow. Rows arrive as the
database produces them (PostgreSQL's streaming mode, SQLite's stepping cursor); nothing
holds more than a batch of rows and a chunk of output.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Select

from app.exporting import selects
from app.exporting.options import ExportOptions, ExportSchema, FileFormat
from app.exporting.rows import Row, row_builder
from app.exporting.writers import jsonl_chunks, parquet_chunks, parquet_schema
from app.queries.trusted_labels import import_vote_weight
from app.queries.trusted_labels import left_out as left_out_by_trust

FETCH_ROWS = 2000
# Rows per message from the PostgreSQL server in streaming (chunked rows) mode.
STREAM_CHUNK_ROWS = 1000


@dataclass(frozen=True)
class ExportCounts:
    written: int
    # Left out of the trl schema, by reason.
    left_out: dict[str, int] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        headers = {"X-Rows-Written": str(self.written)}
        for reason, number in self.left_out.items():
            headers[f"X-Left-Out-{reason.replace('_', '-').title()}"] = str(number)
        return headers


class PreparedExport:
    """Counts known, rows not yet read; iterate `chunks()` exactly once (it closes the connection)."""

    def __init__(
        self,
        conn: Connection,
        project_id: int,
        options: ExportOptions,
        counts: ExportCounts,
        import_weight: float = 1.0,
    ) -> None:
        self._conn = conn
        self._project_id = project_id
        self.options = options
        self.counts = counts
        self._import_weight = import_weight

    def chunks(self) -> Iterator[bytes]:
        options = self.options
        if options.schema is ExportSchema.raw:
            stmt = selects.raw_select(self._project_id, options.filters)
        else:
            stmt = selects.trl_select(self._project_id, options.filters, self._import_weight)
        batches = fetch_batches(self._conn, stmt)
        try:
            if options.fmt is FileFormat.jsonl:
                # The stored messages are JSON already: embedded as they are, never re-encoded.
                build = row_builder(options.schema, options.form, orjson.Fragment)
                yield from jsonl_chunks(batches, build)
            else:
                build = row_builder(options.schema, options.form, orjson.loads)
                yield from parquet_chunks(
                    batches, build, parquet_schema(options.schema, options.form)
                )
        finally:
            # Closed first: a query still streaming must be stopped before the rollback.
            batches.close()
            self.close()

    def close(self) -> None:
        if not self._conn.closed:
            self._conn.rollback()
            self._conn.close()


def fetch_batches(conn: Connection, stmt: Select[*tuple[Any, ...]]) -> Generator[Sequence[Row]]:
    """The statement's rows, FETCH_ROWS at a time, never all at once."""
    if conn.dialect.name != "postgresql":
        # SQLite's cursor steps through the result as it is read.
        result = conn.execution_options(yield_per=FETCH_ROWS).execute(stmt)
        yield from result.partitions()
        return
    # On PostgreSQL the driver's streaming mode, past SQLAlchemy's result layer: the server
    # sends rows while this process encodes the ones before (the socket buffers between),
    # and no per-value type processing runs in Python. The session time zone makes the
    # driver's timestamps UTC, as the ORM's UTCDateTime would.
    conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    driver = conn.connection.driver_connection
    assert driver is not None
    rows = driver.cursor().stream(
        str(compiled), compiled.params, binary=True, size=STREAM_CHUNK_ROWS
    )
    try:
        while batch := list(islice(rows, FETCH_ROWS)):
            yield batch
    finally:
        # Stopped early (the client went away): closing the stream cancels the query; until
        # then the connection could not even roll back.
        rows.close()


def prepare_export(engine: Engine, project_id: int, options: ExportOptions) -> PreparedExport:
    """Opens the export's connection and counts its rows; the caller streams `chunks()`."""
    conn = _snapshot_connection(engine)
    try:
        weight = import_vote_weight(conn, project_id)
        counts = _count(conn, project_id, options, weight)
    except BaseException:
        conn.close()
        raise
    return PreparedExport(conn, project_id, options, counts, weight)


def _snapshot_connection(engine: Engine) -> Connection:
    if engine.dialect.name == "postgresql":
        return engine.connect().execution_options(isolation_level="REPEATABLE READ")
    # A plain BEGIN: a read must not take SQLite's write lock for the length of a download.
    return engine.execution_options(sqlite_read_only=True).connect()


def _count(
    conn: Connection, project_id: int, options: ExportOptions, import_weight: float
) -> ExportCounts:
    if options.schema is ExportSchema.raw:
        return ExportCounts(written=selects.raw_count(conn, project_id, options.filters))
    trl = selects.trl_counts(conn, project_id, options.filters, import_weight)
    left_out: dict[str, Any] = {"ties": trl.ties, "splits": trl.splits}
    if options.filters.min_agreement is not None:
        left_out["low_agreement"] = trl.low_agreement
    # What the trust rule left out: X-Left-Out-Flagged-Labels, X-Left-Out-Gold-Comparisons.
    trust = options.filters.trust
    left_out.update(
        left_out_by_trust(
            conn, project_id, trust, selects.label_conditions(options.filters)
        ).as_dict()
    )
    return ExportCounts(written=trl.written, left_out=left_out)


def media_type(fmt: FileFormat) -> str:
    return "application/x-ndjson" if fmt is FileFormat.jsonl else "application/vnd.apache.parquet"
