"""Migrations that change data, run on a database holding the data they change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

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


def _release_at_0008(
    connection: Connection,
    number: str,
    *,
    primary: str,
    note: str,
    pending: str = "",
    versions: dict[str, tuple[int, int | None]],
) -> int:
    """A release as 0008 kept it: one note for both versions; ``versions`` maps each
    language to its (revision, live revision)."""
    release_id = connection.execute(
        text(
            "INSERT INTO releases (primary_language, state, author_id, number, contact_name,"
            " contact_phone, contact_email, published_at, correction_note,"
            " pending_correction_note, withdrawal_reason, review_cycle, created_at,"
            " updated_at, row_version)"
            " VALUES (:primary, 'published', 1, :number, '', '', '', '2026-05-14 00:00:00',"
            " :note, :pending, '', 1, '2026-05-14 00:00:00', '2026-05-20 03:00:00', 1)"
            " RETURNING id"
        ),
        {
            "primary": primary,
            "number": number,
            "note": note,
            "pending": pending,
        },
    ).scalar_one()
    for language, (revision, live) in versions.items():
        connection.execute(
            text(
                "INSERT INTO release_versions (release_id, language, revision, live_revision)"
                " VALUES (:release, :language, :revision, :live)"
            ),
            {"release": release_id, "language": language, "revision": revision, "live": live},
        )
    return int(release_id)


def _approval(connection: Connection, release_id: int, at: str, corrected: str) -> None:
    connection.execute(
        text(
            "INSERT INTO audit_entries (release_id, action, actor_id, actor_roles, from_state,"
            " to_state, comment, details, at) VALUES (:release, 'approve', 1, 'approver',"
            " 'correction_in_review', 'published', '', :details, :at)"
        ),
        {"release": release_id, "details": json.dumps({"corrected": corrected}), "at": at},
    )


def test_0009_carries_each_release_note_to_the_versions_it_corrected(tmp_path: Path) -> None:
    url = _database_at_0006(tmp_path / "c.db", "author@newsroom.example")
    upgrade(url, "0008")
    with create_engine(url).begin() as connection:
        # Corrected in Korean, then in English: the release kept the English note only.
        english = _release_at_0008(
            connection,
            "2026-0001",
            primary="ko",
            note="The date was corrected.",
            versions={"ko": (2, 2), "en": (2, 2)},
        )
        _approval(connection, english, "2026-05-15 01:00:00", "ko")
        _approval(connection, english, "2026-05-16 02:00:00", "en")
        # No audit entry says which version changed: the original's is assumed.
        unknown = _release_at_0008(
            connection, "2026-0002", primary="en", note="Title fixed.", versions={"en": (2, 2)}
        )
        # A correction under review: its note waits on the version it changes.
        pending = _release_at_0008(
            connection,
            "2026-0003",
            primary="ko",
            note="",
            pending="제목을 바로잡았습니다.",
            versions={"ko": (2, 1), "en": (1, 1)},
        )
    upgrade(url)
    with create_engine(url).connect() as connection:
        corrections = connection.execute(
            text(
                "SELECT release_id, language, note, published_at, revision"
                " FROM version_corrections ORDER BY release_id, language"
            )
        ).all()
        notes = connection.execute(
            text(
                "SELECT language, pending_correction_note FROM release_versions"
                " WHERE release_id = :release ORDER BY language"
            ),
            {"release": pending},
        ).all()
        left = connection.scalar(
            text("SELECT pending_correction_note FROM releases WHERE id = :release"),
            {"release": pending},
        )
    assert [tuple(row) for row in corrections] == [
        (english, "en", "The date was corrected.", "2026-05-16 02:00:00", 2),
        (unknown, "en", "Title fixed.", "2026-05-20 03:00:00", 2),
    ]
    assert [tuple(row) for row in notes] == [("en", ""), ("ko", "제목을 바로잡았습니다.")]
    assert left == ""


def test_later_migrations_keep_every_row_that_refers_to_a_release(tmp_path: Path) -> None:
    """A migration that copied ``releases`` (SQLite's batch mode) would drop the old
    table, and with foreign keys on, every row referring to a release with it."""
    url = _database_at_0006(tmp_path / "d.db", "author@newsroom.example")
    upgrade(url, "0008")
    with create_engine(url).begin() as connection:
        release = _release_at_0008(
            connection,
            "2026-0001",
            primary="ko",
            note="The date was corrected.",
            versions={"ko": (2, 2), "en": (2, 2)},
        )
        _approval(connection, release, "2026-05-15 01:00:00", "ko")
    upgrade(url, "0009")
    tables = ("release_versions", "audit_entries", "version_corrections")

    def counts() -> dict[str, int]:
        with create_engine(url).connect() as connection:
            return {
                table: connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0  # noqa: S608  # fixed names
                for table in tables
            }

    before = counts()
    assert all(before.values()), before
    upgrade(url)
    assert counts() == before
