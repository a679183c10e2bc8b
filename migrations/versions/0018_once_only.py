"""Once-only requests: the stored answer to an API call with an Idempotency-Key, or to a page
form's single-use token, so a retry or a double click never makes a second record.

Revision ID: 0018
Revises: 0017
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('once_only',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_once_only_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_once_only')),
    sa.UniqueConstraint('account_id', 'key', name=op.f('uq_once_only_account_id_key'))
    )
    with op.batch_alter_table('once_only', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_once_only_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('once_only', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_once_only_created_at'))
    op.drop_table('once_only')
