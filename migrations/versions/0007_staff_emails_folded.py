"""users: staff addresses lower-cased whole, as their login

``Choi@…`` and ``choi@…`` were two accounts; from now on an address is one account
however it is typed. Existing addresses are folded; two accounts whose addresses differ
only in case stop the upgrade with their ids, for an admin to merge or deactivate one
first (nothing is changed then).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    clashes = connection.execute(
        sa.text(
            "SELECT lower(email), min(id), max(id) FROM users"
            " GROUP BY lower(email) HAVING count(*) > 1"
        )
    ).all()
    if clashes:
        listed = "; ".join(f"{email}: users {low} and {high}" for email, low, high in clashes)
        raise RuntimeError(
            "these staff accounts differ only in the case of their address; keep one of "
            f"each (change the other's address) and upgrade again: {listed}"
        )
    connection.execute(sa.text("UPDATE users SET email = lower(email) WHERE email <> lower(email)"))


def downgrade() -> None:
    """Nothing to undo: a lower-cased address is still a valid one."""
