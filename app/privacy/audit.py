"""The audit trail: who read or changed which person's data, when, and through which route.

`AuditEvent` rows are append-only and never hold the data itself. They are written by the access
layer (`app.core.access`) in a short transaction of their own, so that a refused probe is kept
even when the request that made it rolls back. The columns are plain integers, not foreign keys:
nothing deleted elsewhere may change or remove what the trail says happened.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, enum_column, utcnow


class AuditAction(str, enum.Enum):
    viewed = "viewed"
    changed = "changed"
    exported = "exported"
    erased = "erased"
    contact_revealed = "contact_revealed"


class AuditOutcome(str, enum.Enum):
    allowed = "allowed"
    refused = "refused"


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_subject_person_id_occurred_at", "subject_person_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    actor_account_id: int | None = None
    actor_role: str = Field(max_length=16)
    subject_person_id: int | None = None
    action: AuditAction = Field(sa_type=enum_column(AuditAction, 24))
    outcome: AuditOutcome = Field(sa_type=enum_column(AuditOutcome, 16))
    route: str = Field(max_length=100)
