"""The application factory."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse, RedirectResponse, Response

from app import redaction
from app.api import (
    exports,
    health,
    imports,
    jobs,
    labels,
    leaderboard,
    model_versions,
    projects,
    stats,
    users,
)
from app.api import quality as quality_api
from app.api.fast_lane import AnnotatorFastLane
from app.config import REPO_ROOT, Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.deps import LoginRequired
from app.middleware import BodySizeLimit, SecurityHeaders
from app.web import auth, docs, people, quality, transfer
from app.web import jobs as web_jobs
from app.web import models as web_models
from app.web import projects as web_projects
from app.web import rate as web_rate
from app.web.templating import render

log = logging.getLogger("rlhf.server")

API_PREFIX = "/api/v1"


def _wants_html_path(path: str) -> bool:
    return not path.startswith(API_PREFIX) and path != "/healthz"


def _wants_html(request: Request) -> bool:
    return _wants_html_path(request.url.path)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={target}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_html(request) and exc.status_code in (403, 404, 405):
            return render(
                request,
                "message.html",
                {"heading": f"Error {exc.status_code}", "message": str(exc.detail)},
                status_code=exc.status_code,
            )
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {k: v for k, v in err.items() if k in ("loc", "msg", "type")} for err in exc.errors()
        ]
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    @app.exception_handler(OperationalError)
    async def database_down(_request: Request, exc: OperationalError) -> Response:
        # The database went away (restart, failover): a clear, retryable answer, not a 500.
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return JSONResponse(
            {"detail": "database unavailable, retry shortly"},
            status_code=503,
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def out_of_range(_request: Request, exc: Exception) -> Response:
        # A value the database cannot store (an id of 10**30, a NUL character in text on
        # PostgreSQL): bad input, not a server fault. SQLite's driver raises OverflowError.
        log.info("value the database cannot store: %s", type(exc).__name__)
        message = "a value is out of range or cannot be stored"
        detail = [{"loc": [], "msg": message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(DBAPIError)
    async def database_error(_request: Request, exc: DBAPIError) -> Response:
        if exc.connection_invalidated:
            return JSONResponse(
                {"detail": "database unavailable, retry shortly"},
                status_code=503,
                headers={"Retry-After": "2"},
            )
        log.exception("database error")
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, _exc: Exception) -> Response:
        log.exception("unhandled error")
        return JSONResponse({"detail": "internal error"}, status_code=500)


def _document_plain_422(app: FastAPI) -> None:
    """Routes also answer 422 with a sentence (a referenced version that does not exist, a
    job parameter out of range), not only FastAPI's list of field errors: say so in OpenAPI."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        error = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
        if error is not None and "anyOf" not in error["properties"]["detail"]:
            listed = error["properties"]["detail"]
            error["properties"]["detail"] = {
                "anyOf": [listed, {"type": "string"}],
                "title": listed.get("title", "Detail"),
            }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="RLHF Studio",
        version="0.1.0",
        description="Human preference collection, reward modelling and PPO in one loop.",
        # Served by app.web.docs from local files: no CDN, works offline.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    engine = make_engine(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.read_sessionmaker = make_sessionmaker(engine, read_only=True)

    _install_error_handlers(app)
    _document_plain_422(app)
    redaction.install()

    app.include_router(health.router)
    routers = (projects, users, imports, exports, stats, labels, jobs, model_versions)
    for module in (*routers, leaderboard, quality_api):
        app.include_router(module.router, prefix=API_PREFIX)
    pages = (auth, docs, web_rate, web_jobs, web_projects, transfer, quality, people, web_models)
    for page in pages:
        app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=str(REPO_ROOT / "static")), name="static")
    app.mount(docs.ASSETS_URL, StaticFiles(directory=str(docs.assets_dir())), name="docs-assets")

    def body_limit(path: str) -> int:
        if path.endswith("/import"):
            # The browser's form wraps the file in multipart headers: a file at the limit fits.
            return settings.max_import_bytes + (0 if path.startswith(API_PREFIX) else 64_000)
        return settings.max_body_bytes

    # Added last runs first: the size limit and headers wrap everything, sessions included.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.ensure_secret_key(),
        session_cookie="rlhf_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.https,
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodySizeLimit, limit_for=body_limit, html_for=_wants_html_path)
    # Outermost: the two annotator requests that carry nearly all the load skip the rest.
    app.add_middleware(AnnotatorFastLane, owner=app)
    return app


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory``: each server worker builds its own app."""
    return create_app()
