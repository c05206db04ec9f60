"""minor and major changes; a release superseded by another

A correction under review is either minor (no public note, no email) or major (a public
note, mailed to everyone who received the release): ``releases.pending_change``. A
release taken down because another replaces it names that one: ``superseded_by``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE … ADD COLUMN, never a batch copy of ``releases``: on SQLite a copy
    # drops the old table, and with foreign keys on that deletes every row that refers
    # to a release (versions, revisions, audit entries…) through ON DELETE CASCADE.
    op.add_column(
        "releases", sa.Column("pending_change", sa.String(10), nullable=False, server_default="")
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place; Alembic would want a batch.
        op.execute(
            "ALTER TABLE releases ADD COLUMN superseded_by INTEGER"
            " CONSTRAINT fk_releases_superseded_by_releases REFERENCES releases (id)"
        )
    else:
        op.add_column(
            "releases",
            sa.Column(
                "superseded_by",
                sa.Integer(),
                sa.ForeignKey("releases.id", name="fk_releases_superseded_by_releases"),
                nullable=True,
            ),
        )
    # A correction under review before this revision was a correction of substance.
    op.execute(
        "UPDATE releases SET pending_change = 'major' "
        "WHERE state IN ('correction_in_review', 'correction_changes_requested')"
    )


def downgrade() -> None:
    # SQLite drops a column in place (3.35 and later) once nothing names it.
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_releases_superseded_by_releases", "releases", type_="foreignkey")
    op.drop_column("releases", "superseded_by")
    op.drop_column("releases", "pending_change")
