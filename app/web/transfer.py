"""HTML routes: a file imported into a project from the browser, and the export form (admin).

The import runs the same pipeline as the API and the CLI, all or nothing: a refused file
lists its first bad lines by number and writes nothing. The upload is read before the
route opens its database session (FastAPI reads form parameters first), so a slow upload
never holds SQLite's write lock.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import IO, Annotated, Any, cast
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from app.deps import SessionDep, SettingsDep, WebAdmin, check_csrf
from app.importing.lines import BoundedReader, DecompressedTooLarge, ReadsLines
from app.importing.parsers import ImportFormat
from app.importing.pipeline import ImportRejected, LineProblem, import_preferences
from app.schemas.imports import ImportResult, LineMessage
from app.web.projects import project_or_404, project_page

router = APIRouter(include_in_schema=False)

# Bad lines listed on the page; the count says how many more there were.
SHOWN_BAD_LINES = 100
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class BadLines:
    total: int
    shown: list[LineProblem]


def _size_text(size: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size:,} bytes"


def too_large_message(limit: int) -> str:
    return (
        f"The file is over the import limit of {_size_text(limit)} (RLHF_MAX_IMPORT_BYTES). "
        "Compress it with gzip or split it into smaller files."
    )


def _is_gzip(stream: IO[bytes]) -> bool:
    head = stream.read(2)
    stream.seek(0)
    return head == GZIP_MAGIC


@router.post("/projects/{project_id}/import")
def import_file(
    project_id: int,
    request: Request,
    # Form parameters first: FastAPI reads the whole upload before the session opens.
    file: Annotated[UploadFile | None, File()] = None,
    fmt: Annotated[str, Form(alias="format", max_length=16)] = "pairs",
    queue: Annotated[bool, Form()] = False,
    csrf_token: Annotated[str, Form()] = "",
    *,
    session: SessionDep,
    settings: SettingsDep,
    user: WebAdmin,
) -> Response:
    check_csrf(request, csrf_token)
    project = project_or_404(session, project_id)
    form = {"format": fmt, "queue": queue}

    def page(status_code: int, **extra: Any) -> Response:
        return project_page(
            request, session, user, project, import_form=form, status_code=status_code, **extra
        )

    try:
        chosen = ImportFormat(fmt)
    except ValueError:
        return page(422, import_errors={"format": "Choose pairs, hh or trl."})
    if file is None or not file.filename:
        return page(422, import_errors={"file": "Choose a file to import."})
    limit = settings.max_import_bytes
    if file.size is not None and file.size > limit:
        return page(413, import_errors={"file": too_large_message(limit)})
    raw = cast(IO[bytes], file.file)
    body: ReadsLines = (
        BoundedReader(gzip.GzipFile(fileobj=raw, mode="rb"), limit) if _is_gzip(raw) else raw
    )
    try:
        summary = import_preferences(session, project.id, body, chosen, queue=queue)
    except ImportRejected as exc:
        # Lines already written belong to this transaction: nothing of the file stays.
        session.rollback()
        shown = [p for p in exc.problems if not p.message.startswith("... and ")]
        return page(422, bad_lines=BadLines(exc.total, shown[:SHOWN_BAD_LINES]))
    except DecompressedTooLarge:
        session.rollback()
        return page(413, import_errors={"file": too_large_message(limit)})
    except (gzip.BadGzipFile, EOFError, OSError) as exc:
        session.rollback()
        return page(422, import_errors={"file": f"The file is not valid gzip: {exc}."})
    result = ImportResult(
        imported=summary.imported,
        duplicates=summary.duplicates,
        skipped=summary.skipped_total,
        skipped_lines=[
            LineMessage(line=p.line, message=p.message, kind=p.kind) for p in summary.skipped
        ],
        skipped_kinds=summary.skipped_kinds,
    )
    return page(200, import_result=result)


# The export form's fields, passed on to the API when filled in.
EXPORT_FIELDS = ("format", "schema", "form", "since", "until", "min_agreement")


@router.get("/projects/{project_id}/export")
def export_form(
    project_id: int, request: Request, session: SessionDep, _user: WebAdmin
) -> Response:
    """Hands the form's choices to the API's export, which streams the file: every rule
    about an export's options stays in the API's own parameters. Blank fields are dropped
    and the comma-separated annotators become the API's repeated parameter."""
    project_or_404(session, project_id)
    query = request.query_params
    params: list[tuple[str, str]] = []
    for name in EXPORT_FIELDS:
        value = query.get(name, "").strip()
        if value:
            params.append((name, value))
    for name in query.getlist("annotator"):
        params += [("annotator", n.strip()) for n in name.split(",") if n.strip()]
    params += [("not_flag", v) for v in query.getlist("not_flag") if v]
    params += [("flag", v) for v in query.getlist("flag") if v]
    url = f"/api/v1/projects/{project_id}/export"
    return RedirectResponse(f"{url}?{urlencode(params)}" if params else url, status_code=303)
