"""registry and consent

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 22:06:38.369585
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('postcode_location',
    sa.Column('postcode', sa.String(length=8), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('local_authority_code', sa.String(length=9), nullable=True),
    sa.Column('ward_code', sa.String(length=9), nullable=True),
    sa.PrimaryKeyConstraint('postcode', name=op.f('pk_postcode_location'))
    )
    op.create_table('skill_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_skill_category')),
    sa.UniqueConstraint('code', name=op.f('uq_skill_category_code'))
    )
    op.create_table('ward',
    sa.Column('code', sa.String(length=9), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_ward'))
    )
    op.create_table('person',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('preferred_contact', sa.String(length=16), nullable=False),
    sa.Column('postcode', sa.String(length=8), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('ward_code', sa.String(length=9), nullable=True),
    sa.Column('access_needs', sa.String(length=1000), nullable=True),
    sa.Column('language_needs', sa.String(length=200), nullable=True),
    sa.Column('created_by_account_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_person_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_account_id'], ['account.id'], name=op.f('fk_person_created_by_account_id_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person')),
    sa.UniqueConstraint('account_id', name=op.f('uq_person_account_id'))
    )
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_ward_code'), ['ward_code'], unique=False)

    op.create_table('skill',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('synonyms', sa.String(length=1000), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['skill_category.id'], name=op.f('fk_skill_category_id_skill_category')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_skill')),
    sa.UniqueConstraint('code', name=op.f('uq_skill_code'))
    )
    with op.batch_alter_table('skill', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_skill_category_id'), ['category_id'], unique=False)

    op.create_table('consent_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=24), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('notice_version', sa.String(length=32), nullable=False),
    sa.Column('notice_hash', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('recorded_by_account_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_consent_record_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_account_id'], ['account.id'], name=op.f('fk_consent_record_recorded_by_account_id_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_record'))
    )
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.create_index('ix_consent_record_person_id_purpose_state', ['person_id', 'purpose', 'state'], unique=False)

    op.create_table('help_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('max_distance_km', sa.Float(), nullable=False),
    sa.Column('availability', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('postcode', sa.String(length=8), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('ward_code', sa.String(length=9), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('urgency', sa.String(length=16), nullable=False),
    sa.CheckConstraint('availability >= 0 AND availability < 2097152', name=op.f('ck_help_request_availability_21_slots')),
    sa.CheckConstraint('max_distance_km >= 0 AND max_distance_km <= 200', name=op.f('ck_help_request_max_distance_range')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_help_request_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_help_request'))
    )
    with op.batch_alter_table('help_request', schema=None) as batch_op:
        batch_op.create_index('ix_help_request_latitude_longitude', ['latitude', 'longitude'], unique=False)
        batch_op.create_index(batch_op.f('ix_help_request_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_help_request_status_expires_at', ['status', 'expires_at'], unique=False)

    op.create_table('offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('max_distance_km', sa.Float(), nullable=False),
    sa.Column('availability', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('postcode', sa.String(length=8), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('ward_code', sa.String(length=9), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.CheckConstraint('availability >= 0 AND availability < 2097152', name=op.f('ck_offer_availability_21_slots')),
    sa.CheckConstraint('capacity >= 1 AND capacity <= 50', name=op.f('ck_offer_capacity_range')),
    sa.CheckConstraint('max_distance_km >= 0 AND max_distance_km <= 200', name=op.f('ck_offer_max_distance_range')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_offer_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offer'))
    )
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.create_index('ix_offer_latitude_longitude', ['latitude', 'longitude'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_offer_status_expires_at', ['status', 'expires_at'], unique=False)

    op.create_table('help_request_skill',
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('skill_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['help_request.id'], name=op.f('fk_help_request_skill_request_id_help_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['skill_id'], ['skill.id'], name=op.f('fk_help_request_skill_skill_id_skill')),
    sa.PrimaryKeyConstraint('request_id', 'skill_id', name=op.f('pk_help_request_skill'))
    )
    with op.batch_alter_table('help_request_skill', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_help_request_skill_skill_id'), ['skill_id'], unique=False)

    op.create_table('offer_skill',
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('skill_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.id'], name=op.f('fk_offer_skill_offer_id_offer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['skill_id'], ['skill.id'], name=op.f('fk_offer_skill_skill_id_skill')),
    sa.PrimaryKeyConstraint('offer_id', 'skill_id', name=op.f('pk_offer_skill'))
    )
    with op.batch_alter_table('offer_skill', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_skill_skill_id'), ['skill_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('offer_skill', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offer_skill_skill_id'))

    op.drop_table('offer_skill')
    with op.batch_alter_table('help_request_skill', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_help_request_skill_skill_id'))

    op.drop_table('help_request_skill')
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.drop_index('ix_offer_status_expires_at')
        batch_op.drop_index(batch_op.f('ix_offer_person_id'))
        batch_op.drop_index('ix_offer_latitude_longitude')

    op.drop_table('offer')
    with op.batch_alter_table('help_request', schema=None) as batch_op:
        batch_op.drop_index('ix_help_request_status_expires_at')
        batch_op.drop_index(batch_op.f('ix_help_request_person_id'))
        batch_op.drop_index('ix_help_request_latitude_longitude')

    op.drop_table('help_request')
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_record_person_id_purpose_state')

    op.drop_table('consent_record')
    with op.batch_alter_table('skill', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_skill_category_id'))

    op.drop_table('skill')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_ward_code'))

    op.drop_table('person')
    op.drop_table('ward')
    op.drop_table('skill_category')
    op.drop_table('postcode_location')
