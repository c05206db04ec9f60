"""photos and documents: the attachments table and each revision's placements

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place, never a batch copy: copying a table on SQLite drops the old one.
    op.add_column(
        "revisions", sa.Column("attachments", sa.JSON(), nullable=False, server_default="[]")
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column(
            "release_id",
            sa.Integer(),
            sa.ForeignKey(
                "releases.id",
                ondelete="CASCADE",
                name="fk_attachments_release_id_releases",
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("content_type", sa.String(120), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("upload_sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("renditions", sa.JSON(), nullable=False, server_default="{}"),
        sa.Column(
            "uploaded_by",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_attachments_uploaded_by_users"),
            nullable=False,
        ),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
    )
    op.create_index("ix_attachments_release_id", "attachments", ["release_id"])


def downgrade() -> None:
    op.drop_index("ix_attachments_release_id", table_name="attachments")
    op.drop_table("attachments")
    op.drop_column("revisions", "attachments")
