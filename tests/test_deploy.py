"""docker-compose.yml: PostgreSQL, server and worker, with the model store on a volume."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from app.config import REPO_ROOT

pytestmark = pytest.mark.nodb

COMPOSE = REPO_ROOT / "docker-compose.yml"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_has_database_server_and_worker() -> None:
    services = _compose()["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["server"]["command"][:2] == ["rlhf", "serve"]
    assert services["worker"]["command"] == ["rlhf", "worker"]
    assert services["migrate"]["command"] == ["rlhf", "migrate"]


def test_server_and_worker_share_the_model_store_and_database() -> None:
    compose = _compose()
    services = compose["services"]
    for name in ("server", "worker"):
        env = services[name]["environment"]
        assert env["RLHF_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@db:5432/" in env["RLHF_DATABASE_URL"]
        assert env["RLHF_DATA_DIR"] == "/data"
        assert "models:/data" in services[name]["volumes"]
    assert "models" in compose["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]


def test_compose_holds_no_literal_secrets() -> None:
    text = COMPOSE.read_text()
    assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD" in text
    assert "RLHF_SECRET_KEY: ${RLHF_SECRET_KEY" in text


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_validates_the_file() -> None:
    env = {**os.environ, "POSTGRES_PASSWORD": "pw", "RLHF_SECRET_KEY": "k" * 48}
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    missing = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"],
        env={k: v for k, v in env.items() if k != "RLHF_SECRET_KEY"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode != 0, "a missing secret must stop the deployment"
