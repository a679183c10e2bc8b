"""Wellbeing answers: a person's optional answers to the four ONS personal wellbeing questions,
before their first match and after each completed one. Reports publish only averages and bands
of 10 or more people.

Revision ID: 0017
Revises: 0016
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('wellbeing_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('match_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=8), nullable=False),
    sa.Column('life_satisfaction', sa.Integer(), nullable=False),
    sa.Column('worthwhile', sa.Integer(), nullable=False),
    sa.Column('happiness', sa.Integer(), nullable=False),
    sa.Column('anxiety', sa.Integer(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_account_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('anxiety >= 0 AND anxiety <= 10', name=op.f('ck_wellbeing_answer_anxiety_range')),
    sa.CheckConstraint('happiness >= 0 AND happiness <= 10', name=op.f('ck_wellbeing_answer_happiness_range')),
    sa.CheckConstraint('life_satisfaction >= 0 AND life_satisfaction <= 10', name=op.f('ck_wellbeing_answer_life_satisfaction_range')),
    sa.CheckConstraint('worthwhile >= 0 AND worthwhile <= 10', name=op.f('ck_wellbeing_answer_worthwhile_range')),
    sa.ForeignKeyConstraint(['match_id'], ['match.id'], name=op.f('fk_wellbeing_answer_match_id_match'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_wellbeing_answer_person_id_person'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['recorded_by_account_id'], ['account.id'], name=op.f('fk_wellbeing_answer_recorded_by_account_id_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wellbeing_answer')),
    sa.UniqueConstraint('person_id', 'match_id', 'stage', name=op.f('uq_wellbeing_answer_person_id_match_id_stage'))
    )
    with op.batch_alter_table('wellbeing_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wellbeing_answer_match_id'), ['match_id'], unique=False)
        batch_op.create_index('ix_wellbeing_answer_stage_answered_at', ['stage', 'answered_at'], unique=False)
        batch_op.create_index('uq_wellbeing_answer_before', ['person_id'], unique=True, sqlite_where=sa.text("stage = 'before'"), postgresql_where=sa.text("stage = 'before'"))



def downgrade() -> None:
    with op.batch_alter_table('wellbeing_answer', schema=None) as batch_op:
        batch_op.drop_index('uq_wellbeing_answer_before', sqlite_where=sa.text("stage = 'before'"), postgresql_where=sa.text("stage = 'before'"))
        batch_op.drop_index('ix_wellbeing_answer_stage_answered_at')
        batch_op.drop_index(batch_op.f('ix_wellbeing_answer_match_id'))

    op.drop_table('wellbeing_answer')
