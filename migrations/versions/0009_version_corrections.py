"""corrections per language version: each version's own notes, every one kept

A release had one correction note, shared by its two language versions and replaced by
each correction. Now a published correction is a row of ``version_corrections`` for the
version it changed, and a correction under review keeps its note on that version
(``release_versions.pending_correction_note``).

The note a release has is carried over to the versions its last correction changed (the
audit entry of that approval names them), or to the original when no entry says; its
time is that approval's. A pending note goes to every live version with unpublished
changes, which is where the approval would have put it. Earlier notes had already been
replaced and stay in the audit trail only. The old columns stay, no longer read.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

audit_entries = sa.table(
    "audit_entries",
    sa.column("id", sa.Integer()),
    sa.column("release_id", sa.Integer()),
    sa.column("action", sa.String()),
    sa.column("from_state", sa.String()),
    sa.column("to_state", sa.String()),
    sa.column("details", sa.JSON()),
)


def upgrade() -> None:
    op.create_table(
        "version_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["releases.id"],
            name=op.f("fk_version_corrections_release_id_releases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_corrections")),
        sa.UniqueConstraint(
            "release_id",
            "language",
            "revision",
            name=op.f("uq_version_corrections_release_id"),
        ),
    )
    with op.batch_alter_table("release_versions") as batch_op:
        batch_op.add_column(
            sa.Column("pending_correction_note", sa.Text(), nullable=False, server_default="")
        )
    connection = op.get_bind()
    _carry_published_notes(connection)
    connection.execute(
        sa.text(
            "UPDATE release_versions SET pending_correction_note = ("
            " SELECT r.pending_correction_note FROM releases r"
            " WHERE r.id = release_versions.release_id)"
            " WHERE live_revision IS NOT NULL AND live_revision <> revision"
            " AND release_id IN (SELECT id FROM releases WHERE pending_correction_note <> '')"
        )
    )
    connection.execute(
        sa.text("UPDATE releases SET pending_correction_note = '' WHERE pending_correction_note <> ''")
    )


def _carry_published_notes(connection: sa.Connection) -> None:
    noted = connection.execute(
        sa.text("SELECT id, primary_language FROM releases WHERE correction_note <> ''")
    ).all()
    for release_id, primary in noted:
        approval_id, languages = _last_correction(connection, release_id)
        for language in languages or [primary]:
            connection.execute(
                sa.text(
                    "INSERT INTO version_corrections"
                    " (release_id, language, note, published_at, revision)"
                    " SELECT r.id, v.language, r.correction_note,"
                    " COALESCE((SELECT a.at FROM audit_entries a WHERE a.id = :approval),"
                    " r.updated_at), v.live_revision"
                    " FROM releases r JOIN release_versions v ON v.release_id = r.id"
                    " WHERE r.id = :release AND v.language = :language"
                    " AND v.live_revision IS NOT NULL"
                ),
                {"release": release_id, "language": language, "approval": approval_id},
            )


def _last_correction(connection: sa.Connection, release_id: int) -> tuple[int | None, list[str]]:
    """The audit entry of the last approval that put corrected text live, and the
    languages it corrected (none found: ``(None, [])``)."""
    approvals = connection.execute(
        sa.select(audit_entries.c.id, audit_entries.c.details)
        .where(
            audit_entries.c.release_id == release_id,
            audit_entries.c.action == "approve",
            audit_entries.c.from_state == "correction_in_review",
            audit_entries.c.to_state == "published",
        )
        .order_by(audit_entries.c.id.desc())
    )
    for approval_id, details in approvals:
        found: Any = json.loads(details) if isinstance(details, str) else details
        corrected = (found or {}).get("corrected") or ""
        if corrected:
            return approval_id, [language for language in corrected.split(",") if language]
    return None, []


def downgrade() -> None:
    connection = op.get_bind()
    connection.execute(
        sa.text(
            "UPDATE releases SET pending_correction_note = COALESCE("
            " (SELECT v.pending_correction_note FROM release_versions v"
            " WHERE v.release_id = releases.id AND v.language = releases.primary_language"
            " AND v.pending_correction_note <> ''),"
            " (SELECT min(v.pending_correction_note) FROM release_versions v"
            " WHERE v.release_id = releases.id AND v.pending_correction_note <> ''), '')"
        )
    )
    with op.batch_alter_table("release_versions") as batch_op:
        batch_op.drop_column("pending_correction_note")
    op.drop_table("version_corrections")
