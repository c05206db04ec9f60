"""daily digests: one email a day with every release of the subscriber's day

``subscribers.digest_time``: the time of day (office time zone) of a subscriber's daily
digest, or NULL for each release as it is published. ``digests``: one row per
subscriber and day, unique, with a delivery's lease columns. ``deliveries.digest_id``:
the digest that carries a release waiting for it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-12 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

UNSETTLED = "state IN ('pending', 'deferred', 'sending')"


def upgrade() -> None:
    # Columns in place, never a batch copy: copying a table on SQLite drops the old one,
    # and with it every row that refers to it.
    op.add_column("subscribers", sa.Column("digest_time", sa.Time(), nullable=True))
    op.add_column("deliveries", sa.Column("digest_id", sa.Integer(), nullable=True))
    op.create_index("ix_deliveries_digest_id", "deliveries", ["digest_id"])
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey(
                "subscribers.id",
                ondelete="CASCADE",
                name="fk_digests_subscriber_id_subscribers",
            ),
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(4), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("smtp_reply", sa.Text(), nullable=False),
        sa.Column("possible_duplicate", sa.Boolean(), nullable=False),
        sa.Column("send_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_digests"),
        sa.UniqueConstraint("message_id", name="uq_digests_message_id"),
        sa.UniqueConstraint("subscriber_id", "day", name="uq_digests_subscriber_id"),
    )
    op.create_index(
        "ix_digests_due",
        "digests",
        ["next_attempt_at", "id"],
        unique=False,
        postgresql_where=sa.text(UNSETTLED),
        sqlite_where=sa.text(UNSETTLED),
    )


def downgrade() -> None:
    op.drop_index("ix_digests_due", table_name="digests")
    op.drop_table("digests")
    op.drop_index("ix_deliveries_digest_id", table_name="deliveries")
    op.drop_column("deliveries", "digest_id")
    op.drop_column("subscribers", "digest_time")
