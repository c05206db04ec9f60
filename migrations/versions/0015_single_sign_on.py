"""single sign-on: whether a sign-in by someone with no account makes one

``security_policy.sso_new_account_role``: empty, a single sign-on by an email no staff
account has is refused; else an account is made with this role. Added in place.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-11 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place, never a batch copy: copying a table on SQLite drops the old one.
    op.add_column(
        "security_policy", sa.Column("sso_new_account_role", sa.String(30), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("security_policy", "sso_new_account_role")
