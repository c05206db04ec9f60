"""deliveries: a due-order index for claims; "both" as a delivery language

Claims read the first unsettled rows of the index in due order; a subscriber who reads
both languages gets one message with both versions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UNSETTLED = "state IN ('pending', 'deferred', 'sending')"


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.alter_column("language", type_=sa.String(4), existing_type=sa.String(2))
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at", "id"],
        unique=False,
        postgresql_where=sa.text(UNSETTLED),
        sqlite_where=sa.text(UNSETTLED),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.alter_column("language", type_=sa.String(2), existing_type=sa.String(4))
