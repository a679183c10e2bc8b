"""Privacy rights: complete consent records (ISO/IEC TS 27560), erasure evidence, retention.

- `consent_record` gains the terms each record was made under (controller, legal basis, retention,
  how to withdraw), who made it (`recorder`) and `superseded_at`: a change is a new record, and the
  current one per person and purpose is the one not superseded (a partial unique index). Existing
  rows are backfilled: the latest record per purpose is current, the older ones superseded.
- No deletion of a person reaches anyone else's data: every foreign key from a person (and from
  what two people share: matches, their messages, introductions) to their records becomes
  RESTRICT. People are anonymised, never deleted (`app.privacy.rights`).
- `erasure_record`: who asked for an erasure, how, and when it was done (no personal data).
- `account.last_signed_in_at` (existing accounts start their retention clock at this migration),
  `person.retention_warned_at`, `person.erased_at` for retention.

Revision ID: 0014
Revises: 0013
"""

import os

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# (table, column, referred table, ondelete before)
RESTRICTED = (
    ("offer", "person_id", "person", "CASCADE"),
    ("help_request", "person_id", "person", "CASCADE"),
    ("consent_record", "person_id", "person", "CASCADE"),
    ("match", "offer_id", "offer", "CASCADE"),
    ("match", "request_id", "help_request", "CASCADE"),
    ("match_message", "match_id", "match", "CASCADE"),
    ("case_assignment", "person_id", "person", "CASCADE"),
    ("case_assignment", "linker_account_id", "account", "CASCADE"),
    ("case_note", "person_id", "person", "CASCADE"),
    ("contact_attempt", "person_id", "person", "CASCADE"),
    ("follow_up", "person_id", "person", "CASCADE"),
    ("account_claim", "person_id", "person", "CASCADE"),
    ("match_introduction", "match_id", "match", "CASCADE"),
)

LEGAL_BASIS = "Consent: UK GDPR Article 6(1)(a)"
HOW_TO_WITHDRAW = (
    "Change it at any time on your account page, under 'Your privacy choices', "
    "or ask your community linker to change it for you."
)
RETENTION = (
    "Kept while you use the service. After 24 months without use we write to you, "
    "and erase your details 30 days later unless you sign in. The record of your choices is kept as evidence."
)

UTC = sa.DateTime(timezone=True)


def _set_ondelete(which: str) -> None:
    by_table: dict[str, list] = {}
    for table, column, referred, before in RESTRICTED:
        by_table.setdefault(table, []).append((column, referred, "RESTRICT" if which == "after" else before))
    for table, columns in by_table.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, referred, ondelete in columns:
                name = f"fk_{table}_{column}_{referred}"
                batch_op.drop_constraint(name, type_="foreignkey")
                batch_op.create_foreign_key(name, referred, [column], ["id"], ondelete=ondelete)


def upgrade() -> None:
    controller = os.environ.get("MARKETPLACE_COUNCIL_NAME", "Northbridge Borough Council")
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recorder", sa.String(length=16), nullable=False, server_default="self"))
        batch_op.add_column(sa.Column("controller", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("legal_basis", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("retention", sa.String(length=300), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("how_to_withdraw", sa.String(length=300), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("superseded_at", UTC, nullable=True))
    records = sa.table(
        "consent_record",
        sa.column("id", sa.Integer), sa.column("person_id", sa.Integer), sa.column("purpose", sa.String),
        sa.column("method", sa.String), sa.column("recorder", sa.String), sa.column("controller", sa.String),
        sa.column("legal_basis", sa.String), sa.column("retention", sa.String), sa.column("how_to_withdraw", sa.String),
        sa.column("recorded_at", UTC), sa.column("withdrawn_at", UTC), sa.column("superseded_at", UTC),
    )  # fmt: skip
    op.execute(
        records.update().values(
            recorder=sa.case((records.c.method == "online", "self"), else_="linker"),
            controller=controller, legal_basis=LEGAL_BASIS, retention=RETENTION, how_to_withdraw=HOW_TO_WITHDRAW,
        )
    )  # fmt: skip
    latest = sa.select(sa.func.max(records.c.id)).group_by(records.c.person_id, records.c.purpose)
    op.execute(
        records.update()
        .where(records.c.id.not_in(latest))
        .values(superseded_at=sa.func.coalesce(records.c.withdrawn_at, records.c.recorded_at))
    )
    op.create_index(
        "uq_consent_record_current", "consent_record", ["person_id", "purpose"], unique=True,
        sqlite_where=sa.text("superseded_at IS NULL"), postgresql_where=sa.text("superseded_at IS NULL"),
    )  # fmt: skip

    _set_ondelete("after")

    op.create_table(
        "erasure_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("requested_on", UTC, nullable=False),
        sa.Column("recorded_by_account_id", sa.Integer(), nullable=True),
        sa.Column("erased_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name="fk_erasure_record_person_id_person", ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(
            ["recorded_by_account_id"], ["account.id"], name="fk_erasure_record_recorded_by_account_id_account",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_erasure_record"),
        sa.UniqueConstraint("person_id", name="uq_erasure_record_person_id"),
    )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_signed_in_at", UTC, nullable=True))
    # Nobody knows when existing accounts last signed in: the retention clock starts now for them,
    # rather than counting every older account as unused on the first purge.
    accounts = sa.table("account", sa.column("last_signed_in_at", UTC))
    op.execute(accounts.update().values(last_signed_in_at=sa.func.current_timestamp()))
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_warned_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("erased_at", UTC, nullable=True))
        batch_op.create_index("ix_person_erased_at", ["erased_at"])


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index("ix_person_erased_at")
        batch_op.drop_column("erased_at")
        batch_op.drop_column("retention_warned_at")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("last_signed_in_at")
    op.drop_table("erasure_record")
    _set_ondelete("before")
    op.drop_index("uq_consent_record_current", table_name="consent_record")
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        for column in ("superseded_at", "how_to_withdraw", "retention", "legal_basis", "controller", "recorder"):
            batch_op.drop_column(column)
