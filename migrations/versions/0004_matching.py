"""matching

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 22:43:25.809380
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('match_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ward_code', sa.String(length=9), nullable=True),
    sa.Column('triggered_by_account_id', sa.Integer(), nullable=True),
    sa.Column('requests_considered', sa.Integer(), nullable=False),
    sa.Column('offers_considered', sa.Integer(), nullable=False),
    sa.Column('candidate_pairs', sa.Integer(), nullable=False),
    sa.Column('requests_covered', sa.Integer(), nullable=False),
    sa.Column('offers_used', sa.Integer(), nullable=False),
    sa.Column('new_suggestions', sa.Integer(), nullable=False),
    sa.Column('total_score', sa.Integer(), nullable=False),
    sa.Column('milliseconds', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['triggered_by_account_id'], ['account.id'], name=op.f('fk_match_run_triggered_by_account_id_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_run'))
    )
    op.create_table('match',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('breakdown', sa.JSON(), nullable=False),
    sa.Column('explanation', sa.String(length=300), nullable=False),
    sa.Column('distance_km', sa.Float(), nullable=True),
    sa.Column('offer_answer', sa.String(length=8), nullable=False),
    sa.Column('request_answer', sa.String(length=8), nullable=False),
    sa.Column('brokered_by_account_id', sa.Integer(), nullable=True),
    sa.Column('minutes_given', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=2000), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('score >= 0 AND score <= 1000', name=op.f('ck_match_score_range')),
    sa.ForeignKeyConstraint(['brokered_by_account_id'], ['account.id'], name=op.f('fk_match_brokered_by_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.id'], name=op.f('fk_match_offer_id_offer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['help_request.id'], name=op.f('fk_match_request_id_help_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['match_run.id'], name=op.f('fk_match_run_id_match_run'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match'))
    )
    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.create_index('ix_match_offer_id_status', ['offer_id', 'status'], unique=False)
        batch_op.create_index('ix_match_request_id_status', ['request_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_run_id'), ['run_id'], unique=False)
        batch_op.create_index('uq_match_open_pair', ['offer_id', 'request_id'], unique=True, sqlite_where=sa.text("status IN ('suggested', 'proposed', 'accepted', 'active')"), postgresql_where=sa.text("status IN ('suggested', 'proposed', 'accepted', 'active')"))



def downgrade() -> None:
    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.drop_index('uq_match_open_pair', sqlite_where=sa.text("status IN ('suggested', 'proposed', 'accepted', 'active')"), postgresql_where=sa.text("status IN ('suggested', 'proposed', 'accepted', 'active')"))
        batch_op.drop_index(batch_op.f('ix_match_run_id'))
        batch_op.drop_index('ix_match_request_id_status')
        batch_op.drop_index('ix_match_offer_id_status')

    op.drop_table('match')
    op.drop_table('match_run')
