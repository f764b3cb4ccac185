"""REST route: importing JSON Lines into a project (admin), all or nothing."""

from __future__ import annotations

import gzip
import tempfile
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from starlette.concurrency import run_in_threadpool

from app.api.projects import project_or_404
from app.deps import AdminUser, SessionDep, SettingsDep
from app.importing.lines import BoundedReader, DecompressedTooLarge, ReadsLines
from app.importing.parsers import ImportFormat
from app.importing.pipeline import ImportRejected, ImportSummary, import_preferences
from app.schemas.errors import FieldErrors
from app.schemas.imports import ImportErrors, ImportResult, LineMessage

router = APIRouter(tags=["import and export"])

# Bodies up to this stay in memory while spooled; larger ones go to a temporary file.
SPOOL_MEMORY_BYTES = 8 << 20


@router.post(
    "/projects/{project_id}/import",
    response_model=ImportResult,
    responses={
        422: {
            # Bad lines, or (like every route) a malformed parameter such as the project id.
            "model": ImportErrors | FieldErrors,
            "description": "bad lines; nothing was written",
        }
    },
    # The body is read as a stream rather than parsed by FastAPI: declared for the docs.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-ndjson": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def import_file(
    project_id: int,
    request: Request,
    _admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    fmt: Annotated[ImportFormat, Query(alias="format")] = ImportFormat.pairs,
    queue: Annotated[bool, Query(description="also send labelled imports to annotators")] = False,
) -> ImportResult:
    """Imports JSON Lines (`Content-Encoding: gzip` accepted) in one transaction."""
    await run_in_threadpool(project_or_404, session, project_id)
    # Authentication opened a write transaction; on SQLite that holds the database's one
    # write lock, which must not wait on a slow upload.
    await run_in_threadpool(session.commit)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        gzipped = request.headers.get("content-encoding", "").lower() == "gzip"
        body: ReadsLines = (
            BoundedReader(gzip.GzipFile(fileobj=spool, mode="rb"), settings.max_import_bytes)
            if gzipped
            else spool
        )
        try:
            summary: ImportSummary = await run_in_threadpool(
                import_preferences, session, project_id, body, fmt, queue=queue
            )
        except ImportRejected as exc:
            detail = [{"line": p.line, "message": p.message} for p in exc.problems]
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from exc
        except DecompressedTooLarge as exc:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"body decompresses to more than {settings.max_import_bytes} bytes",
            ) from exc
        except (gzip.BadGzipFile, EOFError) as exc:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, f"body is not valid gzip: {exc}"
            ) from exc
    return ImportResult(
        imported=summary.imported,
        duplicates=summary.duplicates,
        skipped=summary.skipped_total,
        skipped_lines=[
            LineMessage(line=p.line, message=p.message, kind=p.kind) for p in summary.skipped
        ],
        skipped_kinds=summary.skipped_kinds,
    )
