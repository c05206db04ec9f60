"""public site: view counts, and the text search index over revisions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:00:00.000000

The search index is not in the models (SQLAlchemy has no type for it): on SQLite an
FTS5 table with the trigram tokenizer kept by triggers (revisions are only ever
inserted), on PostgreSQL a pg_trgm GIN index on an expression. ``workflow.db.search``
queries both and tells the drift check to leave them out; see its docstring for why.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# Kept here literally: migrations must not import application code that may change.
SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE revisions_search USING fts5("
    "title, subtitle, body, content='revisions', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER revisions_search_insert AFTER INSERT ON revisions BEGIN "
    "INSERT INTO revisions_search(rowid, title, subtitle, body) "
    "VALUES (new.id, new.title, new.subtitle, new.body); END",
    "CREATE TRIGGER revisions_search_delete AFTER DELETE ON revisions BEGIN "
    "INSERT INTO revisions_search(revisions_search, rowid, title, subtitle, body) "
    "VALUES ('delete', old.id, old.title, old.subtitle, old.body); END",
    "CREATE TRIGGER revisions_search_update AFTER UPDATE ON revisions BEGIN "
    "INSERT INTO revisions_search(revisions_search, rowid, title, subtitle, body) "
    "VALUES ('delete', old.id, old.title, old.subtitle, old.body); "
    "INSERT INTO revisions_search(rowid, title, subtitle, body) "
    "VALUES (new.id, new.title, new.subtitle, new.body); END",
    "INSERT INTO revisions_search(revisions_search) VALUES ('rebuild')",
]
POSTGRES_SEARCH = [
    # A trusted extension since PostgreSQL 13: the database's owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_revisions_search ON revisions USING gin "
    "((title || ' ' || subtitle || ' ' || body) gin_trgm_ops)",
]


def upgrade() -> None:
    with op.batch_alter_table('releases', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('view_count', sa.Integer(), server_default='0', nullable=False)
        )

    op.create_table('view_count_batches',
    sa.Column('batch', sa.String(length=64), nullable=False),
    sa.Column('flushed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('batch', name=op.f('pk_view_count_batches'))
    )
    with op.batch_alter_table('view_count_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_view_count_batches_flushed_at'), ['flushed_at'], unique=False)

    dialect = op.get_bind().dialect.name
    for statement in SQLITE_SEARCH if dialect == 'sqlite' else POSTGRES_SEARCH:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for trigger in ('insert', 'delete', 'update'):
            op.execute(f'DROP TRIGGER revisions_search_{trigger}')
        op.execute('DROP TABLE revisions_search')
    else:
        op.execute('DROP INDEX ix_revisions_search')
    with op.batch_alter_table('view_count_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_view_count_batches_flushed_at'))

    op.drop_table('view_count_batches')
    with op.batch_alter_table('releases', schema=None) as batch_op:
        batch_op.drop_column('view_count')
