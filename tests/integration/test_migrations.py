"""Migrations that change data, run on a database holding the data they change."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from workflow.db.migrations import upgrade


def _database_at_0006(path: Path, *emails: str) -> str:
    url = f"sqlite:///{path}"
    upgrade(url, "0006")
    with create_engine(url).begin() as connection:
        for email in emails:
            connection.execute(
                text(
                    "INSERT INTO users (email, name, language, active, created_at)"
                    " VALUES (:email, 'x', 'ko', 1, '2026-11-23 00:00:00')"
                ),
                {"email": email},
            )
    return url


def _emails(url: str) -> list[str]:
    with create_engine(url).connect() as connection:
        return list(connection.scalars(text("SELECT email FROM users ORDER BY id")))


def test_0007_folds_staff_addresses_to_lower_case(tmp_path: Path) -> None:
    url = _database_at_0006(
        tmp_path / "a.db", "Choi.HaEun@newsroom.example", "kim@newsroom.example"
    )
    upgrade(url)
    assert _emails(url) == ["choi.haeun@newsroom.example", "kim@newsroom.example"]


def test_0007_stops_on_two_accounts_that_differ_only_in_case(tmp_path: Path) -> None:
    url = _database_at_0006(tmp_path / "b.db", "Choi@newsroom.example", "choi@newsroom.example")
    with pytest.raises(RuntimeError, match=r"choi@newsroom.example: users 1 and 2"):
        upgrade(url)
    assert _emails(url) == ["Choi@newsroom.example", "choi@newsroom.example"]
    with create_engine(url).connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0006"
