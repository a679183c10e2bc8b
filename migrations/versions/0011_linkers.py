"""linkers: caseload assignments with history, case notes, contact attempts, follow-ups, account
claim codes, introductions, digests sent; a person's address and contact times; when a match was
proposed (the answer clock)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 22:51:38.703357
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('digest_sent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_digest_sent_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_sent')),
    sa.UniqueConstraint('account_id', 'sent_on', name='uq_digest_sent_account_day')
    )
    op.create_table('account_claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.Column('created_by_account_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_account_id'], ['account.id'], name=op.f('fk_account_claim_created_by_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_account_claim_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_claim')),
    sa.UniqueConstraint('code_digest', name=op.f('uq_account_claim_code_digest'))
    )
    with op.batch_alter_table('account_claim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_claim_person_id'), ['person_id'], unique=False)

    op.create_table('case_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('linker_account_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by_account_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assigned_by_account_id'], ['account.id'], name=op.f('fk_case_assignment_assigned_by_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['linker_account_id'], ['account.id'], name=op.f('fk_case_assignment_linker_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_case_assignment_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_assignment'))
    )
    with op.batch_alter_table('case_assignment', schema=None) as batch_op:
        batch_op.create_index('ix_case_assignment_linker_account_id_ended_at', ['linker_account_id', 'ended_at'], unique=False)
        batch_op.create_index('uq_case_assignment_open_person', ['person_id'], unique=True, sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))

    op.create_table('contact_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('linker_account_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['linker_account_id'], ['account.id'], name=op.f('fk_contact_attempt_linker_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_contact_attempt_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_attempt'))
    )
    with op.batch_alter_table('contact_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_contact_attempt_person_id_attempted_at', ['person_id', 'attempted_at'], unique=False)

    op.create_table('follow_up',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('created_by_account_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('what', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_by_account_id', sa.Integer(), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.Column('result_note', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['created_by_account_id'], ['account.id'], name=op.f('fk_follow_up_created_by_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['finished_by_account_id'], ['account.id'], name=op.f('fk_follow_up_finished_by_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_follow_up_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up'))
    )
    with op.batch_alter_table('follow_up', schema=None) as batch_op:
        batch_op.create_index('ix_follow_up_person_id_finished_at', ['person_id', 'finished_at'], unique=False)

    op.create_table('case_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('match_id', sa.Integer(), nullable=True),
    sa.Column('author_account_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('sensitive', sa.Boolean(), nullable=False),
    sa.Column('corrects_note_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_account_id'], ['account.id'], name=op.f('fk_case_note_author_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['corrects_note_id'], ['case_note.id'], name=op.f('fk_case_note_corrects_note_id_case_note'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['match_id'], ['match.id'], name=op.f('fk_case_note_match_id_match'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_case_note_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_note'))
    )
    with op.batch_alter_table('case_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_note_match_id'), ['match_id'], unique=False)
        batch_op.create_index('ix_case_note_person_id_created_at', ['person_id', 'created_at'], unique=False)

    op.create_table('match_introduction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('match_id', sa.Integer(), nullable=False),
    sa.Column('linker_account_id', sa.Integer(), nullable=True),
    sa.Column('introduced_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['linker_account_id'], ['account.id'], name=op.f('fk_match_introduction_linker_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['match_id'], ['match.id'], name=op.f('fk_match_introduction_match_id_match'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_introduction')),
    sa.UniqueConstraint('match_id', name=op.f('uq_match_introduction_match_id'))
    )
    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=True))
    # Matches already waiting for an answer start their clock at their last change.
    op.execute("UPDATE match SET proposed_at = updated_at WHERE status = 'proposed'")

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('contact_times', sa.String(length=200), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('contact_times')
        batch_op.drop_column('address')

    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.drop_column('proposed_at')

    op.drop_table('match_introduction')
    with op.batch_alter_table('case_note', schema=None) as batch_op:
        batch_op.drop_index('ix_case_note_person_id_created_at')
        batch_op.drop_index(batch_op.f('ix_case_note_match_id'))

    op.drop_table('case_note')
    with op.batch_alter_table('follow_up', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_up_person_id_finished_at')

    op.drop_table('follow_up')
    with op.batch_alter_table('contact_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_attempt_person_id_attempted_at')

    op.drop_table('contact_attempt')
    with op.batch_alter_table('case_assignment', schema=None) as batch_op:
        batch_op.drop_index('uq_case_assignment_open_person', sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index('ix_case_assignment_linker_account_id_ended_at')

    op.drop_table('case_assignment')
    with op.batch_alter_table('account_claim', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_claim_person_id'))

    op.drop_table('account_claim')
    op.drop_table('digest_sent')
