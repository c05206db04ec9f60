"""preview links: a release not yet public, shown to people outside the office

``preview_links`` holds each link (who made it, until when it opens, whether it was
revoked, how often and when it was last opened); ``preview_openings`` one row per
showing, with a keyed hash of the client's address rather than the address.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "preview_links",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column(
            "release_id",
            sa.Integer(),
            sa.ForeignKey(
                "releases.id",
                ondelete="CASCADE",
                name="fk_preview_links_release_id_releases",
            ),
            nullable=False,
        ),
        sa.Column(
            "created_by",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_preview_links_created_by_users"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "revoked_by",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_preview_links_revoked_by_users"),
            nullable=True,
        ),
        sa.Column("last_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_count", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_preview_links"),
    )
    op.create_index("ix_preview_links_release_id", "preview_links", ["release_id"])
    op.create_table(
        "preview_openings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "link_id",
            sa.String(32),
            sa.ForeignKey(
                "preview_links.id",
                ondelete="CASCADE",
                name="fk_preview_openings_link_id_preview_links",
            ),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_preview_openings"),
    )
    op.create_index("ix_preview_openings_link_id", "preview_openings", ["link_id"])


def downgrade() -> None:
    op.drop_index("ix_preview_openings_link_id", table_name="preview_openings")
    op.drop_table("preview_openings")
    op.drop_index("ix_preview_links_release_id", table_name="preview_links")
    op.drop_table("preview_links")
