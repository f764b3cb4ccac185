"""`rlhf migrate` and `rlhf serve`."""

from __future__ import annotations

import argparse
from typing import Any

from app.config import get_settings


def register(commands: Any) -> None:
    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=run_migrate)
    serve = commands.add_parser("serve", help="run the web server")
    serve.add_argument("--host", default=None, help="address to bind (default: RLHF_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (default: RLHF_PORT)")
    serve.add_argument("--workers", type=int, default=1, help="server processes")
    serve.set_defaults(handler=run_serve)


def run_migrate(_args: argparse.Namespace) -> int:
    from app.db import get_engine
    from app.migrate import upgrade

    settings = get_settings()
    upgrade(get_engine())
    print(f"database at {_redacted(settings.resolved_database_url)} is up to date")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    # Made before the workers fork, so every worker signs cookies with the same key.
    settings.ensure_secret_key()
    uvicorn.run(
        "app.main:app_factory",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
        access_log=settings.access_log,
    )
    return 0


def _redacted(url: str) -> str:
    """The URL without its password: logs must never carry secrets."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
