"""The API docs (Swagger UI at /docs, ReDoc at /redoc) served entirely from this server.

The bundles come from the `fastapi-offline` package and are mounted at /docs-assets; the
pages start them from a script file, so an offline install shows its docs and the CSP needs
no CDN and no inline script.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html
from starlette.responses import HTMLResponse, Response

from app.web.templating import templates

router = APIRouter(include_in_schema=False)

ASSETS_URL = "/docs-assets"


def assets_dir() -> Path:
    """Swagger UI's and ReDoc's files, as the fastapi-offline package ships them."""
    return Path(str(resources.files("fastapi_offline") / "static"))


# ReDoc's sidebar shows its maker's logo from their CDN, with no option to turn it off; the
# copy served here points it at an empty inline image instead.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_IMAGE = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


@cache
def _redoc_bundle() -> bytes:
    text = (assets_dir() / "redoc.standalone.js").read_text(encoding="utf-8")
    return text.replace(REDOC_LOGO, EMPTY_IMAGE).encode()


@router.get("/docs-redoc.js")
def redoc_bundle() -> Response:
    return Response(
        _redoc_bundle(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/docs")
def swagger_ui(request: Request) -> Response:
    return templates.TemplateResponse(request, "docs_swagger.html", {"assets": ASSETS_URL})


@router.get("/redoc")
def redoc(request: Request) -> Response:
    return templates.TemplateResponse(request, "docs_redoc.html", {"assets": ASSETS_URL})


@router.get("/docs/oauth2-redirect")
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()
