"""A case note about a match outlives the match: deleting the other person's offer or record (an
erasure, a purge) must not delete notes that belong to this person. `case_note.match_id` is set
to NULL instead of cascading.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FK = "fk_case_note_match_id_match"


def _point_at_match(ondelete: str) -> None:
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.create_foreign_key(FK, "match", ["match_id"], ["id"], ondelete=ondelete)


def upgrade() -> None:
    _point_at_match("SET NULL")


def downgrade() -> None:
    _point_at_match("CASCADE")
