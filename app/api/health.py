"""Liveness that includes the database."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.schemas import HealthStatus

router = APIRouter()


@router.get("/healthz", response_model=HealthStatus, tags=["health"])
def healthz(request: Request) -> HealthStatus:
    """200 when the database answers, 503 when it does not."""
    try:
        engine = request.app.state.engine.execution_options(sqlite_read_only=True)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise HTTPException(503, "database unavailable") from exc
    return HealthStatus(status="ok")
