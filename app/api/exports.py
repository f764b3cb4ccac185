"""REST route: streaming a project's labels as JSONL or Parquet, raw or ready for TRL (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine

from app.api.projects import project_or_404
from app.deps import AdminUser, SessionDep
from app.exporting.options import ExportOptions, FileFormat
from app.exporting.stream import media_type, prepare_export
from app.queries import quality as quality_queries
from app.schemas.exports import export_options

router = APIRouter(tags=["import and export"])


@router.get(
    "/projects/{project_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {}, "application/vnd.apache.parquet": {}},
            "description": "the rows; X-Rows-Written and X-Left-Out-* headers count them",
        }
    },
)
def export_labels(
    project_id: int,
    request: Request,
    _admin: AdminUser,
    session: SessionDep,
    options: Annotated[ExportOptions, Depends(export_options)],
) -> StreamingResponse:
    """Streams the labels in constant memory; ties and splits are left out of `trl` and counted."""
    project_or_404(session, project_id)
    engine: Engine = request.app.state.engine
    export = prepare_export(engine, project_id, options)
    extension = "jsonl" if options.fmt is FileFormat.jsonl else "parquet"
    headers = export.counts.headers()
    # Whose labels the trl schema trusted was decided by this computation (or none yet).
    snapshot = quality_queries.snapshot(session, project_id)
    if snapshot is not None and snapshot.computed_at is not None:
        headers["X-Reliability-Computed-At"] = snapshot.computed_at.isoformat()
    headers["Content-Disposition"] = (
        f'attachment; filename="project-{project_id}-{options.schema.value}.{extension}"'
    )
    return StreamingResponse(export.chunks(), media_type=media_type(options.fmt), headers=headers)
