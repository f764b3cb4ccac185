"""An app on its own fresh database where requests really commit.

The shared `client` fixture runs every request inside the test's rolled-back transaction,
which a streamed export cannot see: it reads on a connection of its own, as in
production. Tests of exports therefore use this module-scoped app and a new project each.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import Settings
from app.db import session_scope
from app.main import create_app
from app.models import Role
from harness.databases import fresh_database, migrated_engine
from tests.auth_helpers import bearer
from tests.factories import make_token, make_user

# The team's shared data lies beside the checkout: /work/shared next to /work/main, and next
# to the folder of worktrees (/work/wt/NAME) one level further up.
SHARED_DATA = next(
    (
        folder / "shared" / "data"
        for folder in Path(__file__).resolve().parents[3:]
        if (folder / "shared" / "data").is_dir()
    ),
    Path(__file__).resolve().parents[3] / "shared" / "data",
)
HH_FILES = ("hh-harmless-base-1800.jsonl.gz", "hh-helpful-base-2354.jsonl.gz")

_names = itertools.count(1)


@dataclass
class LiveApp:
    client: TestClient
    engine: Engine
    admin: dict[str, str]

    def new_project(self, **fields: object) -> int:
        body = {"name": f"project {next(_names)}", **fields}
        response = self.client.post("/api/v1/projects", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    data_dir = tmp_path_factory.mktemp("live")
    with fresh_database(data_dir) as url:
        migrated_engine(url, data_dir).dispose()
        settings = Settings(
            database_url=url,
            data_dir=data_dir,
            secret_key="test-secret-key-that-is-long-enough-0123456789",
        )
        app = create_app(settings)
        engine: Engine = app.state.engine
        with session_scope(engine) as session:
            admin = make_user(session, username="root", role=Role.admin)
            _, plain = make_token(session, admin)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield LiveApp(client=client, engine=engine, admin=bearer(plain))
        engine.dispose()
