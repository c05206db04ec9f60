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
    with op.batch_alter_table("releases") as batch:
        batch.add_column(
            sa.Column("pending_change", sa.String(10), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column(
                "superseded_by",
                sa.Integer(),
                sa.ForeignKey("releases.id", name="fk_releases_superseded_by_releases"),
                nullable=True,
            )
        )
    # A correction under review before this revision was a correction of substance.
    op.execute(
        "UPDATE releases SET pending_change = 'major' "
        "WHERE state IN ('correction_in_review', 'correction_changes_requested')"
    )


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("superseded_by")
        batch.drop_column("pending_change")
