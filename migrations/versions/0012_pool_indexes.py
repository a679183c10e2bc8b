"""Indexes for the linkers' pool: people registered by a linker, and who holds a consent now.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_person_created_by_account_id", "person", ["created_by_account_id"])
    op.create_index("ix_consent_record_purpose_state_person_id", "consent_record", ["purpose", "state", "person_id"])


def downgrade() -> None:
    op.drop_index("ix_consent_record_purpose_state_person_id", table_name="consent_record")
    op.drop_index("ix_person_created_by_account_id", table_name="person")
