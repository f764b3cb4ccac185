"""The `rlhf` command against a real database, as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.models import ApiToken, User
from app.security import hash_api_token, verify_password
from harness.databases import fresh_database


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    with fresh_database(tmp_path) as url:
        yield {
            **os.environ,
            "RLHF_DATABASE_URL": url,
            "RLHF_DATA_DIR": str(tmp_path / "data"),
            "RLHF_LOG_LEVEL": "WARNING",
        }


def rlhf(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_users_and_tokens(cli_env: dict[str, str]) -> None:
    result = rlhf(cli_env, "migrate")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout

    result = rlhf(
        cli_env,
        "users",
        "create",
        "ada",
        "--role",
        "admin",
        "--password-stdin",
        stdin="a long password\n",
    )
    assert result.returncode == 0, result.stderr
    assert "created admin 'ada'" in result.stdout

    again = rlhf(
        cli_env,
        "users",
        "create",
        "ada",
        "--role",
        "admin",
        "--password-stdin",
        stdin="a long password\n",
    )
    assert again.returncode == 2
    assert "already exists" in again.stderr

    minted = rlhf(cli_env, "tokens", "create", "ada")
    assert minted.returncode == 0, minted.stderr
    plain = minted.stdout.strip()
    assert plain.startswith("rlhf_")

    engine = create_engine(cli_env["RLHF_DATABASE_URL"])
    with Session(engine) as session:
        user = session.scalar(select(User).where(User.username == "ada"))
        assert user is not None
        assert user.password_hash is not None and user.password_hash.startswith("$argon2")
        assert verify_password(user.password_hash, "a long password")
        token = session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
        assert token is not None and token.token_hash == hash_api_token(plain)
    engine.dispose()


def test_short_password_and_unknown_user_are_clear_errors(cli_env: dict[str, str]) -> None:
    assert rlhf(cli_env, "migrate").returncode == 0
    short = rlhf(
        cli_env, "users", "create", "bo", "--role", "annotator", "--password-stdin", stdin="abc\n"
    )
    assert short.returncode == 2
    assert "at least 8 characters" in short.stderr
    unknown = rlhf(cli_env, "tokens", "create", "nobody")
    assert unknown.returncode == 2
    assert "no user named 'nobody'" in unknown.stderr


def test_bad_role_is_refused_by_the_parser(cli_env: dict[str, str]) -> None:
    result = rlhf(cli_env, "users", "create", "x", "--role", "root")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
