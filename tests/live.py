"""A real server (`rlhf serve` in a subprocess) on a fresh committed database, and Chromium.

Loaded for the whole suite as a plugin (tests/conftest.py), so every directory shares one
server and one browser: two sync Playwright instances cannot live in one thread.

The server and the database live for the whole test session; each test makes its own
users and projects with unique names, so tests do not see each other's work.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from harness.databases import fresh_database, migrated_engine
from harness.processes import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[1]
SECRET_KEY = "live-server-secret-key-0123456789-abcdefghijkl"
DEMO_PASSWORD = "demo-password-123"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_names = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}x{next(_names)}"


@dataclass
class LiveServer:
    url: str
    engine: Engine
    secret_key: str

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work committed at the end, visible to the server at once."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session


def _rlhf_command() -> list[str]:
    """The installed `rlhf` script beside this interpreter, or the same entry point by hand."""
    script = Path(sys.executable).with_name("rlhf")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "app"]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("live-data")
    with fresh_database(data_dir) as url:
        engine = migrated_engine(url, data_dir)
        env = {
            **os.environ,
            "RLHF_DATABASE_URL": url,
            "RLHF_DATA_DIR": str(data_dir),
            "RLHF_SECRET_KEY": SECRET_KEY,
            "RLHF_LOG_LEVEL": "WARNING",
        }
        rlhf = _rlhf_command()
        seeded = subprocess.run(
            [*rlhf, "demo", "--password", DEMO_PASSWORD],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        assert f"login demo / {DEMO_PASSWORD}" in seeded.stdout
        port = free_port()
        proc = subprocess.Popen(
            [*rlhf, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, proc)
            yield LiveServer(url=base, engine=engine, secret_key=SECRET_KEY)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
