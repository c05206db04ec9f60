"""a topic's Korean name beside its English one

``topics.name`` is the English name (every existing name becomes it); ``topics.name_ko``
is the Korean, empty until an admin sets it, and until then the English name stands in.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place, never a batch copy: topics is the parent of release_topics and
    # subscriber_topics, and copying a table on SQLite drops the old one.
    op.add_column("topics", sa.Column("name_ko", sa.String(100), nullable=True))


def downgrade() -> None:
    op.drop_column("topics", "name_ko")
