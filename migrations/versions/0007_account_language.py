"""account language

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A server default fills the existing rows (SQLite and PostgreSQL both allow NOT NULL with one).
    op.add_column(
        'account',
        sa.Column('language', sa.String(length=16), server_default='en', nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table('account') as batch_op:
        batch_op.drop_column('language')
