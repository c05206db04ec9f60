"""deliveries: the text and embargo time a message carries; longer kinds

A journalist trusted with embargoed copies is told of every change to what they hold:
an embargoed copy records the revisions it carries (``text_key``) and the embargo time
it announces, so that a later schedule can tell whether they hold stale text or a stale
time. Kinds keyed by their event (``update:…``, ``suspended:…``, ``translation:…``) need
more than 20 characters.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.alter_column("kind", type_=sa.String(40), existing_type=sa.String(20))
        batch_op.add_column(
            sa.Column("text_key", sa.String(64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("embargo_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_column("embargo_until")
        batch_op.drop_column("text_key")
        batch_op.alter_column("kind", type_=sa.String(20), existing_type=sa.String(40))
