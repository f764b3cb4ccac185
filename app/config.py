"""The one settings object: environment variables prefixed ``RLHF_`` and an optional ``.env``."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    # XDG keeps per-user data out of the checkout; ./data is the fallback when HOME is unusable.
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg) / "rlhf-studio"
    home = Path.home()
    if home.exists():
        return home / ".local" / "share" / "rlhf-studio"
    return Path("data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RLHF_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str = ""
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # Bodies above this are refused with 413 before they are read; imports stream in chunks.
    max_body_bytes: int = 1_000_000
    max_import_bytes: int = 512_000_000
    # Served over HTTPS: cookies get the Secure flag.
    https: bool = False
    session_max_age_s: int = 14 * 24 * 3600
    assignment_lease_s: int = 600
    login_max_failures: int = 5
    login_lockout_s: int = 300
    job_lease_s: int = 60
    job_max_attempts: int = 3
    worker_poll_s: float = 1.0
    # Processes a training job (reward, ppo, dpo) runs in. Above 1 the worker runs it through
    # `accelerate launch`: one process per GPU, or gloo processes on a CPU-only machine.
    worker_processes: int = Field(default=1, ge=1)
    # An Accelerate config file (`accelerate config`: DeepSpeed, FSDP, several machines); when
    # set, training jobs always go through `accelerate launch --config_file` with it.
    accelerate_config: Path | None = None
    policy_model: str = "smollm2-135m-instruct"
    reward_model: str = "all-minilm-l6-v2"
    log_level: str = "INFO"
    # One line per request; off saves ~5% CPU on the hot annotator endpoints.
    access_log: bool = True

    @field_validator("secret_key")
    @classmethod
    def _refuse_weak_secret(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("RLHF_SECRET_KEY must be at least 32 characters")
        return value

    @field_validator("accelerate_config", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Users paste libpq-style URLs; SQLAlchemy needs the driver named.
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return f"sqlite:///{self.data_dir / 'rlhf.db'}"

    @property
    def model_dir(self) -> Path:
        return self.data_dir / "models"

    def ensure_secret_key(self) -> str:
        """The configured key, or one generated on first start and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Written aside, then linked into place: two server workers starting together agree on
        # one key, and neither can read a half-written file.
        tmp = path.with_name(f".secret_key.{os.getpid()}")
        tmp.write_text(key)
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            key = path.read_text().strip()
        finally:
            tmp.unlink()
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
