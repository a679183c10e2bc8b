"""change log: what each matching generation changed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('change_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stamp', sa.String(length=40), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=True),
    sa.Column('other_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_log'))
    )
    op.create_index('ix_change_log_stamp_generation', 'change_log', ['stamp', 'generation'], unique=False)
    # The stamp row exists from the start, so the first two writers cannot both try to create it.
    op.execute("INSERT INTO change_stamp (name, generation, token) SELECT 'matching', 0, '' "
               "WHERE NOT EXISTS (SELECT 1 FROM change_stamp WHERE name = 'matching')")


def downgrade() -> None:
    op.drop_index('ix_change_log_stamp_generation', table_name='change_log')
    op.drop_table('change_log')
