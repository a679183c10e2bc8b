"""Reports: when an item first went live, and indexes for the aggregate queries.

- `offer.published_at`, `help_request.published_at`: when the item first went live (a reopened
  item keeps its first date). Existing items that are not drafts are backfilled with their
  creation time, the best evidence there is.
- Indexes on the times reports count by: people's registration, items going live, and a match
  being proposed, accepted and completed.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
INDEXES = (
    ("ix_person_created_at", "person", ["created_at"]),
    ("ix_offer_published_at", "offer", ["published_at"]),
    ("ix_help_request_published_at", "help_request", ["published_at"]),
    ("ix_match_proposed_at", "match", ["proposed_at"]),
    ("ix_match_accepted_at", "match", ["accepted_at"]),
    ("ix_match_completed_at", "match", ["completed_at"]),
)


def upgrade() -> None:
    for table in ("offer", "help_request"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("published_at", UTC, nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET published_at = created_at WHERE status <> 'draft'"))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    for table in ("help_request", "offer"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("published_at")
