"""retention: suppressed addresses as keyed hashes, delivery tallies, when a subscriber bounced

``suppressed_addresses`` keeps an unsubscribed or bounced address, once retention has
deleted the subscriber, as a keyed hash that still blocks it. ``delivery_tallies`` keeps
the counts of a release's deliveries deleted with their recipients. ``subscribers.bounced_at``
says since when a subscriber has bounced: those already bounced count from this
migration. An index on ``deliveries.subscriber_id`` finds a subscriber's deliveries.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-11 09:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place, never a batch copy: copying a table on SQLite drops the old one.
    op.add_column("subscribers", sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=True))
    subscribers = sa.table(
        "subscribers",
        sa.column("state", sa.String()),
        sa.column("bounced_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        subscribers.update()
        .where(subscribers.c.state == "bounced")
        .values(bounced_at=datetime.now(UTC))
    )
    op.create_table(
        "suppressed_addresses",
        sa.Column("address_hash", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hashed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address_hash", name="pk_suppressed_addresses"),
    )
    op.create_table(
        "delivery_tallies",
        sa.Column(
            "release_id",
            sa.Integer(),
            sa.ForeignKey(
                "releases.id", ondelete="CASCADE", name="fk_delivery_tallies_release_id_releases"
            ),
            nullable=False,
        ),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("subscribers", sa.Integer(), nullable=False),
        sa.Column("subscribers_reached", sa.Integer(), nullable=False),
        sa.Column("possible_duplicates", sa.Integer(), nullable=False),
        sa.Column("folded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("release_id", name="pk_delivery_tallies"),
    )
    op.create_index("ix_deliveries_subscriber_id", "deliveries", ["subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_subscriber_id", table_name="deliveries")
    op.drop_table("delivery_tallies")
    op.drop_table("suppressed_addresses")
    op.drop_column("subscribers", "bounced_at")
