"""All of Newsroom's settings, read from ``NEWSROOM_*`` environment variables.

The defaults run the embedded mode: a SQLite file under ``var/``, a server-less Celery
transport and a local SMTP catcher. Production sets ``NEWSROOM_ENVIRONMENT=production``
and must then supply its own secret key.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"  # noqa: S105


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSROOM_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    # Where state lives. SQLite (WAL mode) by default; PostgreSQL in production.
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'newsroom.db'}"
    # Signs sessions and tokens; must be set outside development.
    secret_key: str = DEVELOPMENT_SECRET
    # How many distinct approvers must sign off a release (four-eyes: never its authors).
    required_approvals: int = Field(default=1, ge=1, le=10)
    # Shown to people and used to read the times they type; storage is always UTC.
    office_timezone: str = "Asia/Seoul"
    # How long a translator gets by default.
    translation_due_hours: int = Field(default=48, ge=1)

    @field_validator("office_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError("NEWSROOM_SECRET_KEY must be set in production")
        return self

    @property
    def office_zone(self) -> ZoneInfo:
        return ZoneInfo(self.office_timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings()
