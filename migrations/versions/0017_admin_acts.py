"""the audit of administrative acts, append-only

``admin_acts`` holds one row per act on users and roles, topics, subscribers, tokens and
exports: who, when, what, from where. Triggers refuse every UPDATE and DELETE of it, on
PostgreSQL and on SQLite alike, so that not even a mistaken statement by hand rewrites
the record. (TRUNCATE, which only the table's owner may run, is not refused: the tests
empty their database with it.)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

REFUSAL = "admin_acts is append-only"


def upgrade() -> None:
    op.create_table(
        "admin_acts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("actor_roles", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_admin_acts"),
    )
    op.create_index("ix_admin_acts_at", "admin_acts", ["at"])
    op.create_index("ix_admin_acts_actor_id_id", "admin_acts", ["actor_id", "id"])
    op.create_index("ix_admin_acts_kind_id", "admin_acts", ["kind", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION admin_acts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{REFUSAL}: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        # For each statement, not each row: a DELETE that matches nothing is refused too.
        op.execute(
            "CREATE TRIGGER admin_acts_append_only BEFORE UPDATE OR DELETE ON admin_acts "
            "FOR EACH STATEMENT EXECUTE FUNCTION admin_acts_append_only()"
        )
    else:
        for statement in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER admin_acts_no_{statement.lower()} BEFORE {statement} "
                f"ON admin_acts BEGIN SELECT RAISE(ABORT, '{REFUSAL}: {statement} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER admin_acts_append_only ON admin_acts")
        op.execute("DROP FUNCTION admin_acts_append_only()")
    else:
        op.execute("DROP TRIGGER admin_acts_no_update")
        op.execute("DROP TRIGGER admin_acts_no_delete")
    op.drop_index("ix_admin_acts_kind_id", table_name="admin_acts")
    op.drop_index("ix_admin_acts_actor_id_id", table_name="admin_acts")
    op.drop_index("ix_admin_acts_at", table_name="admin_acts")
    op.drop_table("admin_acts")
