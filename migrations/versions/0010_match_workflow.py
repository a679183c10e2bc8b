"""match workflow: who asked, why a match ended, each side's time, messages, and mail preferences

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 18:53:45.484549
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('match_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('match_id', sa.Integer(), nullable=False),
    sa.Column('sender_side', sa.String(length=8), nullable=False),
    sa.Column('sender_account_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['match_id'], ['match.id'], name=op.f('fk_match_message_match_id_match'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sender_account_id'], ['account.id'], name=op.f('fk_match_message_sender_account_id_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_message'))
    )
    with op.batch_alter_table('match_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_message_match_id'), ['match_id'], unique=False)

    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('match_emails', sa.Boolean(), server_default=sa.true(), nullable=False))

    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposed_by', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('ended_by', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('decline_reason', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('decline_note', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('offer_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('request_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.drop_column('completed_at')
        batch_op.drop_column('accepted_at')
        batch_op.drop_column('request_minutes')
        batch_op.drop_column('offer_minutes')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('decline_note')
        batch_op.drop_column('decline_reason')
        batch_op.drop_column('ended_by')
        batch_op.drop_column('proposed_by')

    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_column('match_emails')

    with op.batch_alter_table('match_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_message_match_id'))

    op.drop_table('match_message')
