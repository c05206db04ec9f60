"""the request id an outbox event was written under

``outbox.request_id``: the id of the web request (or of the task) whose command wrote
the event, handed to the consumer with it, so that the log lines of the work it causes
carry the same id. Empty for events written outside any request, and for those before.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place, never a batch copy: copying a table on SQLite drops the old one.
    op.add_column("outbox", sa.Column("request_id", sa.String(128), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "request_id")
